package tenantapi

import (
	"net/http"
	"slices"

	"github.com/tessera-saas/tessera/internal/platform/apidoc"
	"github.com/tessera-saas/tessera/internal/platform/audit"
	"github.com/tessera-saas/tessera/internal/platform/branding"
	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/export"
	"github.com/tessera-saas/tessera/internal/platform/features"
	"github.com/tessera-saas/tessera/internal/platform/order"
	"github.com/tessera-saas/tessera/internal/platform/product"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// EntityIDSchema is the schema of an entity id in a path (entityid.Valid:
// a ULID in its canonical upper case).
var EntityIDSchema = apidoc.StringSchema("^[0-7][0-9A-HJKMNP-TV-Z]{25}$", 26, 26)

// nonBlank: a string that is not all white space (the handlers trim).
const nonBlank = `\S`

// Contract is what this handler's routes read and answer, for the API's
// OpenAPI document (internal/wire/openapi): the bodies are the handlers'
// own types, and the errors the codes they answer.
func Contract() apidoc.Contract {
	c := apidoc.NewContract()
	idParam := map[string]*apidoc.Schema{"id": EntityIDSchema}
	byID := func(r string) apidoc.Link {
		return apidoc.Link{Name: r, Operation: r, Parameters: map[string]string{"path.id": "$response.body#/id"}}
	}
	// samePath follows an answer without a body (204) to the same id.
	samePath := func(r string) apidoc.Link {
		return apidoc.Link{Name: r, Operation: r, Parameters: map[string]string{"path.id": "$request.path.id"}}
	}
	update := func(r string) apidoc.Link {
		l := byID(r)
		l.Body = map[string]string{"version": "$response.body#/version"}
		return l
	}
	notFound := apidoc.Fail(http.StatusNotFound, edge.CodeNotFound)
	invalidID := apidoc.Fail(http.StatusBadRequest, edge.CodeInvalidID)

	// Products and orders: the same five routes each (entities.go).
	c.Operations["ListProducts"] = apidoc.Operation{Summary: "List the tenant's products, oldest first",
		Params: apidoc.PageParams, Errors: apidoc.PageErrors,
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "a page of products", Body: store.Page[product.Product]{}}}}
	c.Operations["CreateProduct"] = apidoc.Operation{Summary: "Create a product; its sku is unique within the tenant",
		Body:   product.Input{},
		Errors: apidoc.Join(apidoc.BodyErrors, []apidoc.Failure{apidoc.Fail(http.StatusConflict, edge.CodeSKUConflict)}),
		Responses: []apidoc.Response{{Status: http.StatusCreated, Description: "the product, version 1", Body: product.Product{},
			Links: []apidoc.Link{byID("GetProduct"), update("UpdateProduct"), byID("DeleteProduct"),
				{Name: "CreateOrder", Operation: "CreateOrder", Body: map[string]string{"productId": "$response.body#/id"}}}}}}
	c.Operations["GetProduct"] = apidoc.Operation{Summary: "Read a product", PathParams: idParam,
		Errors: []apidoc.Failure{invalidID, notFound},
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "the product", Body: product.Product{},
			Links: []apidoc.Link{update("UpdateProduct")}}}}
	c.Operations["UpdateProduct"] = apidoc.Operation{Summary: "Replace a product, given the version last read", PathParams: idParam,
		Body: productUpdate{},
		Errors: apidoc.Join(apidoc.BodyErrors, []apidoc.Failure{invalidID, notFound,
			apidoc.Fail(http.StatusConflict, edge.CodeSKUConflict, edge.CodeVersionConflict)}),
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "the product, its version one higher", Body: product.Product{},
			Links: []apidoc.Link{byID("GetProduct"), update("UpdateProduct")}}}}
	c.Operations["DeleteProduct"] = apidoc.Operation{Summary: "Delete a product", PathParams: idParam,
		Errors: []apidoc.Failure{invalidID, notFound,
			apidoc.Fail(http.StatusConflict, edge.CodeVersionConflict)}, // changed by others throughout the delete's retries
		Responses: []apidoc.Response{{Status: http.StatusNoContent, Description: "deleted",
			Links: []apidoc.Link{samePath("GetProduct")}}}}

	c.Operations["ListOrders"] = apidoc.Operation{Summary: "List the tenant's orders, oldest first",
		Params: apidoc.PageParams, Errors: apidoc.PageErrors,
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "a page of orders", Body: store.Page[order.Order]{}}}}
	c.Operations["CreateOrder"] = apidoc.Operation{Summary: "Create an order of one of the tenant's products",
		Body:   order.Input{},
		Errors: apidoc.Join(apidoc.BodyErrors, []apidoc.Failure{apidoc.Fail(http.StatusBadRequest, edge.CodeUnknownProduct)}),
		Responses: []apidoc.Response{{Status: http.StatusCreated, Description: "the order, version 1", Body: order.Order{},
			Links: []apidoc.Link{byID("GetOrder"), update("UpdateOrder"), byID("DeleteOrder")}}}}
	c.Operations["GetOrder"] = apidoc.Operation{Summary: "Read an order", PathParams: idParam,
		Errors: []apidoc.Failure{invalidID, notFound},
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "the order", Body: order.Order{},
			Links: []apidoc.Link{update("UpdateOrder")}}}}
	c.Operations["UpdateOrder"] = apidoc.Operation{Summary: "Replace an order, given the version last read", PathParams: idParam,
		Body: orderUpdate{},
		Errors: apidoc.Join(apidoc.BodyErrors, []apidoc.Failure{invalidID, notFound,
			apidoc.Fail(http.StatusBadRequest, edge.CodeUnknownProduct),
			apidoc.Fail(http.StatusConflict, edge.CodeVersionConflict)}),
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "the order, its version one higher", Body: order.Order{},
			Links: []apidoc.Link{byID("GetOrder"), update("UpdateOrder")}}}}
	c.Operations["DeleteOrder"] = apidoc.Operation{Summary: "Delete an order", PathParams: idParam,
		Errors:    []apidoc.Failure{invalidID, notFound},
		Responses: []apidoc.Response{{Status: http.StatusNoContent, Description: "deleted", Links: []apidoc.Link{samePath("GetOrder")}}}}

	// Users (users.go): the tenant's admins only (403 forbidden otherwise).
	c.Operations["ListUsers"] = apidoc.Operation{Summary: "List the tenant's users (admins only)",
		Params: apidoc.PageParams, Errors: apidoc.PageErrors,
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "a page of users", Body: store.Page[store.UserRecord]{}}}}
	c.Operations["CreateUser"] = apidoc.Operation{Summary: "Invite a user into the caller's tenant (admins only)",
		Body: createUser{},
		Errors: apidoc.Join(apidoc.BodyErrors, []apidoc.Failure{
			apidoc.FailRetry(http.StatusTooManyRequests, edge.CodeInviteLimit),
			apidoc.FailRetry(http.StatusServiceUnavailable, edge.CodeTryLater)}),
		Responses: []apidoc.Response{
			{Status: http.StatusOK, Description: "the email is a user of the tenant already: its record", Body: store.UserRecord{}},
			{Status: http.StatusAccepted, Description: "invited (or the email belongs to someone outside the tenant: the same answer)", Body: invited{}},
		}}

	// Exports (exports.go): the tenant's admins only.
	c.Operations["CreateExport"] = apidoc.Operation{Summary: "Export the tenant's products and orders (admins only)",
		Description: "Queues an export; poll GET /v1/exports/{id} until it is DONE or FAILED. The body may be empty.",
		Body:        exportRequest{}, BodyOptional: true, Errors: apidoc.BodyErrors,
		Responses: []apidoc.Response{{Status: http.StatusAccepted, Description: "queued", Body: export.Export{},
			Links: []apidoc.Link{byID("GetExport")}}}}
	c.Operations["GetExport"] = apidoc.Operation{Summary: "Read an export (admins only)", PathParams: idParam,
		Errors:    []apidoc.Failure{invalidID, notFound},
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "the export", Body: export.Export{}}}}

	// Settings (settings.go): every user reads, admins write.
	c.Operations["GetSettings"] = apidoc.Operation{Summary: "Read the tenant's settings (defaults, version 0, when none were written)",
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "the settings", Body: branding.Settings{}}}}
	c.Operations["PutSettings"] = apidoc.Operation{Summary: "Replace the tenant's settings, given the version last read (admins only)",
		Description: "config is a free-form JSON object of at most 4096 bytes encoded, " +
			"5 levels of nested objects and arrays and 64 keys in all; the store replaces the whole settings.",
		Body:   settingsInput{},
		Errors: apidoc.Join(apidoc.BodyErrors, []apidoc.Failure{apidoc.Fail(http.StatusConflict, edge.CodeVersionConflict)}),
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "the settings, their version one higher", Body: branding.Settings{},
			Links: []apidoc.Link{{Name: "GetSettings", Operation: "GetSettings"}}}}}
	// Feature flags (features.go).
	c.Operations["ListFeatures"] = apidoc.Operation{Summary: "The value of every feature flag for the tenant, and why",
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "every flag's value", Body: featureList{}}}}
	// Entitlements: refused before anything is written.
	for name, f := range map[string]apidoc.Failure{
		"CreateExport":  apidoc.Fail(http.StatusForbidden, edge.CodeNotEntitled),
		"CreateProduct": apidoc.Fail(http.StatusConflict, edge.CodeLimitReached),
		"CreateUser":    apidoc.Fail(http.StatusConflict, edge.CodeLimitReached),
	} {
		op := c.Operations[name]
		op.Errors = append(slices.Clip(op.Errors), f)
		c.Operations[name] = op
	}
	// The audit trail (audit.go): the tenant's admins only.
	c.Operations["ListAudit"] = apidoc.Operation{Summary: "List the tenant's audit trail, oldest first (admins only)",
		Description: "Every state-changing request of the tenant's users and of the operators, and the background steps on the tenant; " +
			"entries are kept for the retention of the tenant's tier and cannot be changed or deleted.",
		Params: append(slices.Clip(apidoc.TimeRangeParams), apidoc.PageParams...), Errors: apidoc.Join(apidoc.TimeRangeErrors, apidoc.PageErrors),
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "a page of audit entries", Body: store.Page[store.AuditEntry]{}}}}
	// Invoices (invoices.go): the tenant's admins only.
	c.Operations["ListInvoices"] = apidoc.Operation{Summary: "The tenant's invoice of a month (admins only)",
		Description: "Computed from the usage ledger, the tier history and the daily storage samples at the plan's prices, " +
			"prorated by day (see the README's Billing section). The month not ended yet is a draft.",
		Params: []apidoc.Param{{In: "query", Name: "month", Description: "YYYY-MM (UTC); default: the current month, a draft",
			Schema: apidoc.StringSchema(`^[0-9]{4}-(0[1-9]|1[0-2])$`, 7, 7)}},
		Errors:    []apidoc.Failure{apidoc.Fail(http.StatusBadRequest, edge.CodeValidation)},
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "the month's invoice; none when the tenant did not exist then", Body: invoiceList{}}}}

	c.Operations["GetOpenAPI"] = apidoc.Operation{Summary: "This document",
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "the OpenAPI document of the API",
			Raw: &apidoc.Schema{Type: apidoc.Types{"object"}}}}}

	// A tenant being restored is read-only: each write route answers 503
	// tenant_restoring with Retry-After before it reaches the tenant's data
	// (usable, in handler.go). While a tier migration cuts the tenant over,
	// a write that reaches the old placement's fence answers 503
	// tenant_migrating with Retry-After (afterFence, in handler.go).
	for _, r := range route.ForFunction(route.FunctionAPI) {
		if op, ok := c.Operations[r.Name]; ok && r.Audience == route.TenantUser && !reads(r) {
			op.Errors = append(slices.Clip(op.Errors), apidoc.FailRetry(http.StatusServiceUnavailable, edge.CodeTenantRestoring, edge.CodeTenantMigrating))
			c.Operations[r.Name] = op
		}
	}

	apidoc.Enum(c.Enums, order.StatusPending, order.StatusConfirmed, order.StatusShipped, order.StatusDelivered, order.StatusCancelled)
	apidoc.Enum(c.Enums, export.StatusQueued, export.StatusRunning, export.StatusDone, export.StatusFailed)
	apidoc.Enum(c.Enums, tenant.RoleAdmin, tenant.RoleMember)
	apidoc.Name[store.UserRecord](c.Names, "User")
	apidoc.Name[invited](c.Names, "Invitation")
	apidoc.Name[createUser](c.Names, "UserInput")
	apidoc.Name[branding.Settings](c.Names, "Settings")
	apidoc.Name[settingsInput](c.Names, "SettingsInput")
	apidoc.Name[featureValue](c.Names, "Feature")
	apidoc.Name[featureList](c.Names, "FeatureList")
	apidoc.Enum(c.Enums, features.KindBoolean, features.KindInteger, features.KindString)
	apidoc.Name[store.AuditEntry](c.Names, "AuditEntry")
	apidoc.Enum(c.Enums, audit.User, audit.Operator, audit.System)

	f := c.Fields
	apidoc.AddField[product.Input](f, "name", apidoc.Pattern(nonBlank), apidoc.MaxLength(product.MaxNameLen))
	apidoc.AddField[product.Input](f, "sku", apidoc.Pattern(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`))
	apidoc.AddField[product.Input](f, "description", apidoc.MaxLength(product.MaxDescriptionLen))
	apidoc.AddField[product.Price](f, "amount", apidoc.Describe("in the currency's minor unit (cents for EUR)"), apidoc.Range(0, product.MaxAmount))
	apidoc.AddField[product.Price](f, "currency", apidoc.Describe("an ISO 4217 code"), apidoc.OneOf(currencies()...))
	apidoc.AddField[order.Input](f, "productId", apidoc.Pattern(EntityIDSchema.Pattern))
	apidoc.AddField[order.Input](f, "quantity", apidoc.Range(1, order.MaxQuantity))
	apidoc.AddField[order.Customer](f, "name", apidoc.Pattern(nonBlank), apidoc.MaxLength(order.MaxNameLen))
	apidoc.AddField[order.Customer](f, "email", apidoc.Format("email"), apidoc.MaxLength(order.MaxEmailLen))
	apidoc.AddField[createUser](f, "email", apidoc.Format("email"), apidoc.MaxLength(directory.MaxEmailLength))
	apidoc.AddField[settingsInput](f, "displayName", apidoc.Pattern(nonBlank), apidoc.MaxLength(branding.MaxDisplayNameLen))
	apidoc.AddField[settingsInput](f, "logoUrl", apidoc.Format("uri"), apidoc.Pattern("^https://"), apidoc.MaxLength(branding.MaxLogoURLLen))
	apidoc.AddField[settingsInput](f, "primaryColor", apidoc.Pattern(branding.ColorPattern))
	apidoc.AddField[settingsInput](f, "locale", apidoc.Describe("a BCP 47 language tag (en-US when absent)"), apidoc.MaxLength(35))
	apidoc.AddField[settingsInput](f, "timeZone", apidoc.Describe("an IANA time zone (UTC when absent)"), apidoc.MaxLength(64))
	apidoc.AddField[settingsInput](f, "config", apidoc.Describe("a JSON object: at most 4096 bytes encoded, 5 levels of objects and arrays, 64 keys of 1 to 64 characters"))
	apidoc.AddField[settingsInput](f, "version", apidoc.Describe("the version last read; 0 when the tenant has none"))
	apidoc.AddField[featureValue](f, "reason", apidoc.OneOf("TARGETING_MATCH", "SPLIT", "STATIC", "DEFAULT"))
	return c
}

// currencies lists the codes product.ValidCurrency accepts: every
// three-letter code it is asked about.
func currencies() []string {
	var out []string
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			for c := 'A'; c <= 'Z'; c++ {
				if code := string([]rune{a, b, c}); product.ValidCurrency(code) {
					out = append(out, code)
				}
			}
		}
	}
	return out
}
