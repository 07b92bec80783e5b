package operatorapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/migrations"
	"github.com/tessera-saas/tessera/internal/control/outbox"
	"github.com/tessera-saas/tessera/internal/platform/audit"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/cell"
	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// Publisher publishes outbox events right after the change they announce.
type Publisher interface {
	PublishOrKeep(ctx context.Context, ev *store.OutboxEvent)
}

// Handler serves the operator's tenant management routes
// (functions/tenants). Every call checks the operators group.
type Handler struct {
	catalog *store.Catalog
	pub     Publisher
	log     *slog.Logger
	sweeper Sweeper
	routes  edge.Routes[tenant.Operator]
	newID   func() string
	// tokens verifies the caller's own ID token (WithVerifier).
	tokens tenant.Verifier
	// cell is the deployment's cell, recorded in every new tenant's
	// placement (WithCell).
	cell cell.ID
	// backups serves the backup and restore routes (WithBackups).
	backups Backups
}

// WithCell makes new tenants record c as their cell (cell.Default without
// it).
func (h *Handler) WithCell(c cell.ID) *Handler {
	if c.Valid() {
		h.cell = c
	}
	return h
}

// WithVerifier makes the handler verify each request's ID token itself
// (an idtoken.Cache) and check the operators group in the verified token,
// whatever the event's authorizer claims say. Without it every request
// fails (500).
func (h *Handler) WithVerifier(v tenant.Verifier) *Handler {
	h.tokens = v
	return h
}

// Outbox publishes and sweeps the catalog's outbox (internal/control/outbox).
type Outbox interface {
	Publisher
	Sweeper
}

// New returns the operator handler. It makes no AWS call.
func New(c *store.Catalog, ob Outbox, log *slog.Logger) *Handler {
	h := &Handler{catalog: c, pub: ob, sweeper: ob, log: log, newID: tenant.NewID, cell: cell.Default}
	h.routes = edge.NewRoutes(route.FunctionTenants, map[string]edge.Endpoint[tenant.Operator]{
		"ListTenants": h.list, "CreateTenant": h.create, "GetTenant": h.get,
		"ChangeTenantTier": h.changeTier, "SuspendTenant": h.suspend, "ResumeTenant": h.resume,
		"OffboardTenant": h.offboard,
		"BackupTenant":   h.backupTenant, "ListTenantBackups": h.listBackups, "RestoreTenant": h.restoreTenant,
		"GetTenantJob": h.getJob, "ListTenantJobs": h.listJobs,
		"ListFlags": h.listFlags, "PutFlag": h.putFlag, "PutTenantFlag": h.putTenantFlag,
		"ListTenantAudit": h.listAudit,
	})
	return h
}

// Handle is the Lambda entry point of the operator API.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	start := time.Now()
	routeKey := edge.RouteKey(req)
	log := edge.RequestLog(h.log, req.RequestContext.RequestID, routeKey)
	ctx, trail := audit.Begin(ctx, route.All, req) // every write route (internal/platform/audit)
	status, payload, err := func() (int, any, error) {
		ep, err := h.routes.Find(routeKey)
		if err != nil {
			return 0, nil, err
		}
		op, err := tenant.AuthenticateOperator(ctx, h.tokens, req)
		if err != nil {
			return 0, nil, err
		}
		log = log.With("operator", op.UserID)
		if h.catalog != nil { // (unit tests of the backup routes have none)
			trail.Identify(op.UserID, audit.Operator, "", "", h.catalog)
		}
		return ep(ctx, op, req)
	}()
	resp := edge.Finish(log, start, status, payload, err)
	trail.Finish(ctx, resp.StatusCode, resp.Body, log)
	return resp, nil
}

// createTenant is the body of POST /v1/tenants: every field present and
// not null (edge.DecodeJSON), then validated.
type createTenant struct {
	Name       string       `json:"name" required:"true"`
	Tier       catalog.Tier `json:"tier" required:"true"`
	AdminEmail string       `json:"adminEmail" required:"true"`
	// TenantID is set by the cell router (internal/control/cellrouter),
	// which chooses the id before it places the tenant in a cell; without
	// it the cell chooses one.
	TenantID string `json:"tenantId,omitempty"`
}

// validName reports whether name, trimmed, is a tenant name: 1 to
// MaxTenantNameLen characters of valid UTF-8.
func validName(name string) bool {
	name = strings.TrimSpace(name)
	return name != "" && utf8.ValidString(name) && utf8.RuneCountInString(name) <= MaxTenantNameLen
}

func (in createTenant) validate() error {
	switch {
	case !validName(in.Name):
		return edge.NewError(http.StatusBadRequest, edge.CodeValidation, "name is required, at most 100 characters")
	case !in.Tier.Valid():
		return edge.NewError(http.StatusBadRequest, edge.CodeValidation, "tier must be basic, standard or premium")
	case !directory.ValidEmail(in.AdminEmail): // what the user pool accepts, so onboarding cannot fail on it
		return edge.NewError(http.StatusBadRequest, edge.CodeValidation, "adminEmail must be an email address of at most 128 characters that the user pool accepts")
	case in.TenantID != "" && !tenant.IsNewID(in.TenantID):
		return edge.NewError(http.StatusBadRequest, edge.CodeValidation, "tenantId, when the cell router sets it, is \"t-\" and a lower-case ULID")
	}
	return nil
}

// Limits of the operator API's inputs.
const (
	// MaxIdempotencyKeyLen bounds the Idempotency-Key header.
	MaxIdempotencyKeyLen = 128
	// MaxTenantNameLen bounds a tenant's name, in characters.
	MaxTenantNameLen = 100
	// MaxReasonLen bounds the reason of a suspension or offboarding.
	MaxReasonLen = 500
)

// decodeCreate reads and checks a create request: its body and its
// Idempotency-Key header.
func decodeCreate(req events.APIGatewayProxyRequest) (createTenant, string, error) {
	var in createTenant
	if err := edge.DecodeJSON(req, &in); err != nil {
		return createTenant{}, "", err
	}
	if err := in.validate(); err != nil {
		return createTenant{}, "", err
	}
	in.Name = strings.TrimSpace(in.Name)
	idemKey := edge.Header(req, "Idempotency-Key")
	if len(idemKey) > MaxIdempotencyKeyLen || strings.ContainsAny(idemKey, "#\x00") {
		return createTenant{}, "", edge.NewError(http.StatusBadRequest, edge.CodeValidation, "Idempotency-Key must be at most 128 characters without '#'")
	}
	return in, idemKey, nil
}

// CheckCreate checks a create request as the operator API will (body and
// Idempotency-Key), without acting on it, and reports whether the body names
// a tenantId: the cell router refuses bad input before it places a tenant.
func CheckCreate(req events.APIGatewayProxyRequest) (hasTenantID bool, err error) {
	in, _, err := decodeCreate(req)
	return in.TenantID != "", err
}

func (h *Handler) create(ctx context.Context, op tenant.Operator, req events.APIGatewayProxyRequest) (int, any, error) {
	in, idemKey, err := decodeCreate(req)
	if err != nil {
		return 0, nil, err
	}
	hashed := in.Name + "\x00" + string(in.Tier) + "\x00" + in.AdminEmail
	if in.TenantID != "" {
		hashed += "\x00" + in.TenantID
	}
	sum := sha256.Sum256([]byte(hashed))
	now := time.Now().UTC()
	id := in.TenantID
	if id == "" {
		id = h.newID()
	}
	rec := catalog.Record{TenantID: id, Name: in.Name, Tier: in.Tier, Status: catalog.StatusProvisioning,
		Placement:  catalog.Placement{Cell: string(h.cell)},
		AdminEmail: in.AdminEmail, CreatedAt: now, UpdatedAt: now, Version: 1,
		// Born current: the store writes the latest item format, so the
		// fleet runner never applies older migrations to this tenant.
		Schema: migrations.Latest()}
	ev, err := outbox.Event(bus.TenantOnboardingRequested, bus.Detail{TenantID: rec.TenantID, Tier: string(rec.Tier),
		CorrelationID: correlationID(req), TenantName: rec.Name, AdminEmail: rec.AdminEmail})
	if err != nil {
		return 0, nil, err
	}
	// Keys are the operator's own (scoped by sub) and replay for
	// store.IdempotencyTTL. The audit entry is the request's own, written
	// with the tenant (audit.Expect: what a create answers).
	audit.Expect(ctx, http.StatusAccepted)
	got, replayed, err := h.catalog.Create(ctx, rec, store.Idempotency{Owner: op.UserID, Key: idemKey, RequestHash: hex.EncodeToString(sum[:])}, ev,
		&store.AuditEntry{Action: "create", Actor: op.UserID, Detail: "tier " + string(rec.Tier)})
	if errors.Is(err, store.ErrIdempotencyMismatch) {
		return 0, nil, edge.NewError(http.StatusConflict, edge.CodeIdempotencyMismatch, "this Idempotency-Key was used for a different request")
	}
	if errors.Is(err, store.ErrExists) {
		return 0, nil, edge.NewError(http.StatusConflict, edge.CodeTenantExists, "a tenant with this tenantId exists")
	}
	if err != nil {
		return 0, nil, err
	}
	if replayed {
		return http.StatusOK, got, nil
	}
	h.pub.PublishOrKeep(ctx, ev)
	return http.StatusAccepted, got, nil
}

// correlationID is the caller's X-Correlation-Id, else API Gateway's
// request id.
func correlationID(req events.APIGatewayProxyRequest) string {
	if v := edge.Header(req, "X-Correlation-Id"); v != "" && len(v) <= 128 {
		return v
	}
	if req.RequestContext.RequestID != "" {
		return req.RequestContext.RequestID
	}
	return bus.NewCorrelationID()
}

func (h *Handler) list(ctx context.Context, _ tenant.Operator, req events.APIGatewayProxyRequest) (int, any, error) {
	pr, err := edge.PageRequest(req)
	if err != nil {
		return 0, nil, err
	}
	page, err := h.catalog.ListTenants(ctx, pr)
	return http.StatusOK, page, err
}

func tenantID(req events.APIGatewayProxyRequest) (string, error) {
	id := req.PathParameters["id"]
	if !tenant.ValidID(id) {
		return "", edge.NewError(http.StatusBadRequest, edge.CodeInvalidID, "the id in the path is not a tenant id")
	}
	return id, nil
}

func (h *Handler) get(ctx context.Context, _ tenant.Operator, req events.APIGatewayProxyRequest) (int, any, error) {
	id, err := tenantID(req)
	if err != nil {
		return 0, nil, err
	}
	rec, err := h.catalog.GetTenant(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return 0, nil, store.ErrNotFound
	}
	return http.StatusOK, rec, err
}

// transition applies a lifecycle change; a change that already happened
// (the tenant is in the target state) answers with the record unchanged.
func (h *Handler) transition(ctx context.Context, op tenant.Operator, req events.APIGatewayProxyRequest,
	from, done []catalog.Status, to catalog.Status, dt bus.DetailType, action, reason string, answers int) (int, any, error) {
	id, err := tenantID(req)
	if err != nil {
		return 0, nil, err
	}
	cur, err := h.catalog.GetTenant(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return 0, nil, store.ErrNotFound
	}
	if err != nil {
		return 0, nil, err
	}
	for _, d := range done {
		if cur.Status == d {
			return http.StatusOK, cur, nil
		}
	}
	ev, err := outbox.Event(dt, bus.Detail{TenantID: id, Tier: string(cur.Tier), CorrelationID: correlationID(req), Reason: reason})
	if err != nil {
		return 0, nil, err
	}
	ch := store.Change{From: from, To: to, Reason: reason, ClearReason: reason == ""}
	audit.Expect(ctx, answers)
	rec, err := h.catalog.Apply(ctx, id, ch, ev, &store.AuditEntry{Action: action, Actor: op.UserID, Detail: reason})
	if errors.Is(err, store.ErrStatusChanged) {
		return 0, nil, edge.NewError(http.StatusConflict, edge.CodeInvalidState, "the tenant is "+string(cur.Status)+"; this change is not possible now")
	}
	if err != nil {
		return 0, nil, err
	}
	h.pub.PublishOrKeep(ctx, ev)
	return http.StatusOK, rec, nil
}

type reasonBody struct {
	Reason string `json:"reason"`
}

func optionalReason(req events.APIGatewayProxyRequest) (string, error) {
	if strings.TrimSpace(req.Body) == "" {
		return "", nil
	}
	var b reasonBody
	if err := edge.DecodeJSON(req, &b); err != nil {
		return "", err
	}
	if utf8.RuneCountInString(b.Reason) > MaxReasonLen {
		return "", edge.NewError(http.StatusBadRequest, edge.CodeValidation, "reason must be at most 500 characters")
	}
	return strings.TrimSpace(b.Reason), nil
}

func (h *Handler) suspend(ctx context.Context, op tenant.Operator, req events.APIGatewayProxyRequest) (int, any, error) {
	reason, err := optionalReason(req)
	if err != nil {
		return 0, nil, err
	}
	if reason == "" {
		reason = "suspended by operator"
	}
	return h.transition(ctx, op, req, []catalog.Status{catalog.StatusActive}, []catalog.Status{catalog.StatusSuspended}, catalog.StatusSuspended, bus.TenantSuspended, "suspend", reason, http.StatusOK)
}

func (h *Handler) resume(ctx context.Context, op tenant.Operator, req events.APIGatewayProxyRequest) (int, any, error) {
	return h.transition(ctx, op, req, []catalog.Status{catalog.StatusSuspended}, []catalog.Status{catalog.StatusActive}, catalog.StatusActive, bus.TenantResumed, "resume", "", http.StatusOK)
}

func (h *Handler) offboard(ctx context.Context, op tenant.Operator, req events.APIGatewayProxyRequest) (int, any, error) {
	reason, err := optionalReason(req)
	if err != nil {
		return 0, nil, err
	}
	if reason == "" {
		reason = "offboarded by operator"
	}
	status, payload, err := h.transition(ctx, op, req,
		// OFFBOARD_FAILED: an operator's retry of an offboarding that gave up.
		[]catalog.Status{catalog.StatusActive, catalog.StatusSuspended, catalog.StatusFailed, catalog.StatusOffboardFailed},
		[]catalog.Status{catalog.StatusOffboarding, catalog.StatusOffboarded},
		catalog.StatusOffboarding, bus.TenantOffboardingRequested, "offboard", reason, http.StatusAccepted)
	if rec, ok := payload.(catalog.Record); err == nil && ok && rec.Status == catalog.StatusOffboarding {
		return http.StatusAccepted, rec, nil // the provisioner finishes the work
	}
	return status, payload, err
}

type tierBody struct {
	Tier catalog.Tier `json:"tier" required:"true"`
}

// tierChangeFrom are the states whose tier may change. Not PROVISIONING: the
// provisioner is building the placement of the tier the tenant asked for (a
// premium stack could be left behind); not on the way out or failed.
var tierChangeFrom = []catalog.Status{catalog.StatusActive, catalog.StatusSuspended}

func (h *Handler) changeTier(ctx context.Context, op tenant.Operator, req events.APIGatewayProxyRequest) (int, any, error) {
	id, err := tenantID(req)
	if err != nil {
		return 0, nil, err
	}
	var b tierBody
	if err := edge.DecodeJSON(req, &b); err != nil {
		return 0, nil, err
	}
	if !b.Tier.Valid() {
		return 0, nil, edge.NewError(http.StatusBadRequest, edge.CodeValidation, "tier must be basic, standard or premium")
	}
	cur, err := h.catalog.GetTenant(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return 0, nil, store.ErrNotFound
	}
	if err != nil {
		return 0, nil, err
	}
	if !slices.Contains(tierChangeFrom, cur.Status) {
		return 0, nil, tierStateError(cur.Status)
	}
	if cur.Tier == b.Tier {
		return http.StatusOK, cur, nil
	}
	ev, err := outbox.Event(bus.TenantTierChanged, bus.Detail{TenantID: id, Tier: string(b.Tier), PreviousTier: string(cur.Tier), CorrelationID: correlationID(req)})
	if err != nil {
		return 0, nil, err
	}
	// The tier is recorded; the provisioner follows the event, and moves
	// the tenant's data when the change crosses the pooled/dedicated line
	// (backup.Service.Migrate).
	audit.Expect(ctx, http.StatusOK)
	rec, err := h.catalog.Apply(ctx, id, store.Change{From: tierChangeFrom, Tier: b.Tier}, ev, &store.AuditEntry{Action: "change-tier", Actor: op.UserID, Detail: string(cur.Tier) + " -> " + string(b.Tier)})
	if errors.Is(err, store.ErrStatusChanged) { // it moved on since the read
		return 0, nil, tierStateError("")
	}
	if err != nil {
		return 0, nil, err
	}
	h.pub.PublishOrKeep(ctx, ev)
	return http.StatusOK, rec, nil
}

func tierStateError(st catalog.Status) error {
	msg := "the tenant is not ACTIVE or SUSPENDED any more; its tier cannot change now"
	if st != "" {
		msg = "the tenant is " + string(st) + "; its tier can change once it is ACTIVE or SUSPENDED"
	}
	return edge.NewError(http.StatusConflict, edge.CodeInvalidState, msg)
}

// Sweeper republishes events a crash left in the outbox.
type Sweeper interface {
	Sweep(ctx context.Context, age time.Duration, limit int32) (int, error)
}

// SweepRequest is the scheduled event that asks the tenants function to
// sweep the outbox ({"tessera":"sweep-outbox"}).
const SweepRequest = "sweep-outbox"

// Invoke is the tenants function's entry point: API Gateway proxy events,
// and the scheduled outbox sweep.
func (h *Handler) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Tessera string `json:"tessera"`
	}
	if err := json.Unmarshal(raw, &probe); err == nil && probe.Tessera == SweepRequest {
		if h.sweeper == nil {
			return nil, errors.New("tenants: no outbox sweeper configured")
		}
		n, err := h.sweeper.Sweep(ctx, time.Minute, 100)
		if err != nil {
			h.log.Error("outbox sweep failed", "published", n, "error", err.Error())
			return nil, err
		}
		h.log.Info("outbox swept", "published", n)
		return map[string]int{"published": n}, nil
	}
	var req events.APIGatewayProxyRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, fmt.Errorf("tenants: unknown event: %w", err)
	}
	return h.Handle(ctx, req)
}

// listAudit answers a page of any tenant's audit trail
// (GET /v1/tenants/{id}/audit?from&to&limit&cursor), oldest first. A
// tenant's trail outlives its record until its entries expire, so an
// offboarded tenant's is still read.
func (h *Handler) listAudit(ctx context.Context, _ tenant.Operator, req events.APIGatewayProxyRequest) (int, any, error) {
	// audit.DeploymentTrail ("_deployment", which no tenant id can be) is
	// the trail of the operator requests that name no tenant, such as a
	// flag definition's change.
	id := req.PathParameters["id"]
	if id != audit.DeploymentTrail {
		var err error
		if id, err = tenantID(req); err != nil {
			return 0, nil, err
		}
	}
	from, to, err := edge.TimeRange(req)
	if err != nil {
		return 0, nil, err
	}
	pr, err := edge.PageRequest(req)
	if err != nil {
		return 0, nil, err
	}
	page, err := h.catalog.Audit(ctx, id, from, to, pr.Cursor, int(pr.Limit))
	return http.StatusOK, page, err
}
