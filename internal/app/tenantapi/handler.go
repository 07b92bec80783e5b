package tenantapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/tessera-saas/tessera/internal/platform/audit"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/features"
	"github.com/tessera-saas/tessera/internal/platform/metering"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// Catalog looks up tenant records (a catalog.Cache in production). A
// Catalog that caches should also have Forget(tenantID), as catalog.Cache
// does: after a write refused by a placement's fence, the handler drops the
// tenant's record before reading it again (afterFence).
type Catalog interface {
	Get(ctx context.Context, tenantID string) (catalog.Record, error)
}

// Data is the store the handler reaches each caller's tenant data through
// (*store.Store).
type Data interface {
	For(sc catalog.Scope) store.TenantData
}

// caller is whom an endpoint serves: the verified user, its tenant's scope,
// and that tenant's data (and no other tenant's).
type caller struct {
	tenant.Tenant
	scope catalog.Scope
	data  store.TenantData
	// record is the tenant's catalog record as this request read it.
	record catalog.Record
}

// Handler serves the tenant app routes of functions/api.
type Handler struct {
	tenants Catalog
	data    Data
	users   Users
	log     *slog.Logger
	routes  edge.Routes[caller]
	meters  *Metering
	exports Exports
	// tokens verifies the caller's own ID token (WithVerifier).
	tokens tenant.Verifier
	// openapi is the API's document (WithOpenAPI).
	openapi func() (json.RawMessage, error)
	// flags evaluates feature flags and entitlements, with the definitions
	// flagDefs (WithFeatures); region is the evaluation context's.
	flags    *openfeature.Client
	flagDefs *features.Definitions
	region   string
}

// WithVerifier makes the handler verify each request's ID token itself
// (an idtoken.Cache): the caller is whom the token names, whatever the
// event's authorizer context says, so a direct invoke with forged claims
// gets 401. Without it every request fails (500).
func (h *Handler) WithVerifier(v tenant.Verifier) *Handler {
	h.tokens = v
	return h
}

// New returns the handler. It makes no AWS call.
func New(tenants Catalog, data Data, users Users, log *slog.Logger) *Handler {
	h := &Handler{tenants: tenants, data: data, users: users, log: log}
	h.flags, h.flagDefs = builtinFeatures()
	// A product is created only below the tenant's max-products
	// entitlement (409 limit_reached at it).
	products := products
	products.allowCreate = func(ctx context.Context, c caller) error {
		return h.underLimit(ctx, features.MaxProducts, "products", c.data.CountProducts)
	}
	h.routes = edge.NewRoutes(route.FunctionAPI, map[string]edge.Endpoint[caller]{
		"ListProducts": products.list, "CreateProduct": products.create, "GetProduct": products.get,
		"UpdateProduct": products.update, "DeleteProduct": products.delete,
		"ListOrders": orders.list, "CreateOrder": orders.create, "GetOrder": orders.get,
		"UpdateOrder": orders.update, "DeleteOrder": orders.delete,
		"ListUsers": h.listUsers, "CreateUser": h.createUser,
		"CreateExport": h.createExport, "GetExport": h.getExport,
		"GetOpenAPI":  h.getOpenAPI,
		"GetSettings": h.getSettings, "PutSettings": h.putSettings,
		"ListFeatures": h.listFeatures,
		"ListAudit":    h.listAudit,
		"ListInvoices": h.listInvoices,
	})
	return h
}

// Handle is the Lambda entry point.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	start := time.Now()
	routeKey := edge.RouteKey(req)
	log := edge.RequestLog(h.log, req.RequestContext.RequestID, routeKey)
	var meter *metering.Meter
	ctx, trail := audit.Begin(ctx, route.All, req) // every write route (audit.go)
	status, payload, err := h.serve(ctx, req, routeKey, start, &log, &meter)
	resp := edge.Finish(log, start, status, payload, err)
	trail.Finish(ctx, resp.StatusCode, resp.Body, log)
	h.meterRequest(ctx, log, meter, routeKey, start, resp.StatusCode, req.RequestContext.RequestID)
	return resp, nil
}

// serve is the tenant edge: verified token -> tenant -> catalog record ->
// scope.
func (h *Handler) serve(ctx context.Context, req events.APIGatewayProxyRequest, routeKey string, start time.Time, log **slog.Logger, meter **metering.Meter) (int, any, error) {
	ep, err := h.routes.Find(routeKey)
	if err != nil {
		return 0, nil, err
	}
	r, _ := route.ByKey(routeKey)
	if r.Audience == route.Public {
		return ep(ctx, caller{}, req) // no token, no tenant
	}
	t, err := tenant.Authenticate(ctx, h.tokens, req)
	if err != nil {
		return 0, nil, err
	}
	*log = (*log).With("tenantId", t.ID)
	rec, err := h.tenants.Get(ctx, t.ID)
	if err != nil {
		return 0, nil, err
	}
	*meter = metering.Start(t.ID, rec.Tier, routeKey, start)
	if err := usable(rec, r); err != nil {
		return 0, nil, err
	}
	sc, err := catalog.ScopeOf(t, rec)
	if err != nil {
		return 0, nil, err
	}
	ctx = metering.NewContext(ctx, *meter)
	// Every flag evaluated for this request, in any layer, is for this
	// tenant: OpenFeature's transaction context.
	ctx = openfeature.WithTransactionContext(ctx, features.ContextFor(rec, h.region))
	data := h.data.For(sc)
	// A write's entry goes to the tenant's own trail, in its own session.
	audit.FromContext(ctx).Identify(t.UserID, audit.User, t.ID, rec.Tier, data)
	status, payload, err := ep(ctx, caller{Tenant: t, scope: sc, data: data, record: rec}, req)
	if errors.Is(err, store.ErrFenced) {
		return h.afterFence(ctx, ep, t, r, rec, req, *log, err)
	}
	return status, payload, err
}

// forgetter is a Catalog that caches (catalog.Cache): Forget drops a
// tenant's record, so the next Get reads the catalog.
type forgetter interface {
	Forget(tenantID string)
}

// afterFence handles a write that the fence of the tenant's placement
// refused (store.ErrFenced), which wrote nothing. Either a tier migration
// is cutting the tenant over right now, or it has cut over already and this
// process still cached the old placement. The tenant's record is read again
// (dropped from the cache first): when its placement changed, the endpoint
// runs once more, with the new placement; otherwise the fenced error stands
// (503 tenant_migrating, or tenant_restoring for a restore's fence, with
// Retry-After).
func (h *Handler) afterFence(ctx context.Context, ep edge.Endpoint[caller], t tenant.Tenant, r route.Route, old catalog.Record,
	req events.APIGatewayProxyRequest, log *slog.Logger, fenced error) (int, any, error) {
	var fe *store.FencedError
	reason, job := "", ""
	if errors.As(fenced, &fe) {
		reason, job = fe.Fence.Reason, fe.Fence.JobID
	}
	log = log.With("fenceReason", reason, "fenceJob", job)
	if f, ok := h.tenants.(forgetter); ok {
		f.Forget(t.ID)
	}
	rec, err := h.tenants.Get(ctx, t.ID)
	if err != nil {
		log.Warn("write refused by the placement's fence; the tenant's record could not be read again", "error", err.Error())
		return 0, nil, fenced
	}
	if rec.Placement == old.Placement {
		log.Info("write refused by the placement's fence")
		return 0, nil, fenced
	}
	log.Info("write refused by a stale placement's fence; running it on the new placement", "dedicated", rec.Placement.Dedicated)
	if err := usable(rec, r); err != nil {
		return 0, nil, err
	}
	sc, err := catalog.ScopeOf(t, rec)
	if err != nil {
		return 0, nil, err
	}
	// Should the new placement be fenced as well, its error stands: retry
	// later.
	ctx = openfeature.WithTransactionContext(ctx, features.ContextFor(rec, h.region))
	return ep(ctx, caller{Tenant: t, scope: sc, data: h.data.For(sc), record: rec}, req)
}

// usable refuses a tenant that may not use route r now: one that is not
// active (403 tenant_suspended), except that a tenant being restored, which
// is read-only, may read; its writes get 503 tenant_restoring with a
// Retry-After, before they reach its data.
func usable(rec catalog.Record, r route.Route) error {
	if err := rec.Readable(); err != nil {
		return err
	}
	if reads(r) {
		return nil
	}
	err := rec.Usable()
	if errors.Is(err, catalog.ErrReadOnly) {
		return fmt.Errorf("%w: %w", edge.ErrTenantRestoring, err)
	}
	return err
}

// reads reports whether route r only reads: its method is safe (GET, HEAD).
func reads(r route.Route) bool { return r.Method == http.MethodGet || r.Method == http.MethodHead }
