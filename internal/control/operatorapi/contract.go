package operatorapi

import (
	"net/http"

	"github.com/tessera-saas/tessera/internal/platform/apidoc"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// TenantIDSchema is the schema of a tenant id in a path (tenant.ValidID).
var TenantIDSchema = apidoc.StringSchema("^[a-z0-9][a-z0-9-]{1,62}$", 2, 63)

// Contract is what the operator routes read and answer, for the API's
// OpenAPI document (internal/wire/openapi).
func Contract() apidoc.Contract {
	c := apidoc.NewContract()
	idParam := map[string]*apidoc.Schema{"id": TenantIDSchema}
	correlation := apidoc.Param{In: "header", Name: "X-Correlation-Id",
		Description: "carried by the events the change publishes (at most 128 characters; else API Gateway's request id)",
		Schema:      &apidoc.Schema{Type: apidoc.Types{"string"}}}
	notFound := apidoc.Fail(http.StatusNotFound, edge.CodeNotFound)
	invalidID := apidoc.Fail(http.StatusBadRequest, edge.CodeInvalidID)
	invalidState := apidoc.Fail(http.StatusConflict, edge.CodeInvalidState)
	lifecycle := func() []apidoc.Link {
		var ls []apidoc.Link
		for _, r := range []string{"GetTenant", "ChangeTenantTier", "SuspendTenant", "ResumeTenant", "OffboardTenant"} {
			ls = append(ls, apidoc.Link{Name: r, Operation: r, Parameters: map[string]string{"path.id": "$response.body#/tenantId"}})
		}
		return ls
	}
	tenantAnswer := func(status int, desc string) apidoc.Response {
		return apidoc.Response{Status: status, Description: desc, Body: catalog.Record{}, Links: lifecycle()}
	}

	c.Operations["ListTenants"] = apidoc.Operation{Summary: "List the tenants",
		Params: apidoc.PageParams, Errors: apidoc.PageErrors,
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "a page of tenants", Body: store.Page[catalog.Record]{}}}}
	c.Operations["CreateTenant"] = apidoc.Operation{Summary: "Onboard a tenant",
		Description: "Records the tenant as PROVISIONING and asks the provisioner to build it; poll GET /v1/tenants/{id} until ACTIVE or FAILED.",
		Body:        createTenant{},
		Params: []apidoc.Param{{In: "header", Name: "Idempotency-Key",
			Description: "the operator's own key: the same request with the same key within 24 hours answers the same tenant (200)",
			Schema:      &apidoc.Schema{Type: apidoc.Types{"string"}, MaxLength: ptr(MaxIdempotencyKeyLen), Pattern: "^[^#\\x00]*$"}},
			correlation},
		Errors: apidoc.Join(apidoc.BodyErrors, []apidoc.Failure{apidoc.Fail(http.StatusConflict, edge.CodeIdempotencyMismatch),
			apidoc.Fail(http.StatusConflict, edge.CodeTenantExists)}),
		Responses: []apidoc.Response{
			tenantAnswer(http.StatusOK, "replayed: this Idempotency-Key created this tenant"),
			tenantAnswer(http.StatusAccepted, "recorded as PROVISIONING; the provisioner builds it"),
		}}
	c.Operations["GetTenant"] = apidoc.Operation{Summary: "Read a tenant", PathParams: idParam,
		Errors:    []apidoc.Failure{invalidID, notFound},
		Responses: []apidoc.Response{tenantAnswer(http.StatusOK, "the tenant")}}
	c.Operations["ChangeTenantTier"] = apidoc.Operation{Summary: "Change an ACTIVE or SUSPENDED tenant's tier", PathParams: idParam,
		Body: tierBody{}, Params: []apidoc.Param{correlation},
		Errors:    apidoc.Join(apidoc.BodyErrors, []apidoc.Failure{invalidID, notFound, invalidState}),
		Responses: []apidoc.Response{tenantAnswer(http.StatusOK, "the tenant with its new tier (unchanged if it had it)")}}
	c.Operations["SuspendTenant"] = apidoc.Operation{Summary: "Suspend an ACTIVE tenant", PathParams: idParam,
		Body: reasonBody{}, BodyOptional: true, Params: []apidoc.Param{correlation},
		Errors:    apidoc.Join(apidoc.BodyErrors, []apidoc.Failure{invalidID, notFound, invalidState}),
		Responses: []apidoc.Response{tenantAnswer(http.StatusOK, "the tenant, SUSPENDED")}}
	c.Operations["ResumeTenant"] = apidoc.Operation{Summary: "Resume a SUSPENDED tenant", PathParams: idParam,
		Params:    []apidoc.Param{correlation},
		Errors:    []apidoc.Failure{invalidID, notFound, invalidState},
		Responses: []apidoc.Response{tenantAnswer(http.StatusOK, "the tenant, ACTIVE")}}
	c.Operations["OffboardTenant"] = apidoc.Operation{Summary: "Offboard a tenant: its data and key are destroyed", PathParams: idParam,
		Body: reasonBody{}, BodyOptional: true, Params: []apidoc.Param{correlation},
		Errors: apidoc.Join(apidoc.BodyErrors, []apidoc.Failure{invalidID, notFound, invalidState}),
		Responses: []apidoc.Response{
			tenantAnswer(http.StatusOK, "offboarding or offboarded already"),
			tenantAnswer(http.StatusAccepted, "OFFBOARDING: the provisioner finishes it"),
		}}

	apidoc.Enum(c.Enums, plan.Tiers...)
	apidoc.Enum(c.Enums, catalog.StatusProvisioning, catalog.StatusActive, catalog.StatusSuspended,
		catalog.StatusOffboarding, catalog.StatusOffboarded, catalog.StatusFailed, catalog.StatusOffboardFailed)
	apidoc.Name[catalog.Record](c.Names, "Tenant")
	apidoc.Name[catalog.Status](c.Names, "TenantStatus")
	apidoc.Name[createTenant](c.Names, "TenantInput")
	apidoc.Name[tierBody](c.Names, "TierChange")
	apidoc.Name[reasonBody](c.Names, "Reason")

	f := c.Fields
	apidoc.AddField[createTenant](f, "name", apidoc.Pattern(`\S`), apidoc.MaxLength(MaxTenantNameLen))
	apidoc.AddField[createTenant](f, "adminEmail", apidoc.Format("email"), apidoc.MaxLength(directory.MaxEmailLength))
	apidoc.AddField[createTenant](f, "tenantId", apidoc.Pattern("^t-[0-9a-hjkmnp-tv-z]{26}$"),
		apidoc.Describe("set by the cell router, which chooses the id before it places the tenant; omit it to let the cell choose"))
	apidoc.AddField[reasonBody](f, "reason", apidoc.MaxLength(MaxReasonLen))
	return c
}

func ptr[T any](v T) *T { return &v }
