package audit

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// ActorKind says what kind of actor an entry names.
type ActorKind string

// The kinds of actors.
const (
	// User: a tenant user; Actor is the verified token's sub.
	User ActorKind = "user"
	// Operator: a member of the operators group; Actor is its sub.
	Operator ActorKind = "operator"
	// System: a background step; Actor names it ("provisioner",
	// "restore", "schedule", "fleet"), or the operator whose job it runs.
	System ActorKind = "system"
)

// Outcomes of system steps; requests record their HTTP status ("201").
const (
	Succeeded = "succeeded"
	Failed    = "failed"
)

// OutcomeOf is the outcome of a system step by its verb: Failed for the
// verbs of failures ("provisioning-failed", "restore-rolled-back"),
// Succeeded otherwise.
func OutcomeOf(action string) string {
	if strings.HasSuffix(action, "-failed") || strings.HasSuffix(action, "-rolled-back") {
		return Failed
	}
	return Succeeded
}

// DeploymentTrail is the trail of operator requests that name no tenant
// (such as a flag definition of the whole deployment). No tenant id can
// take this value (tenant.ValidID), so no tenant session reaches it.
const DeploymentTrail = "_deployment"

// Entry is one immutable record of who did what to a tenant.
type Entry struct {
	TenantID string    `dynamodbav:"tenantId" json:"tenantId"`
	At       time.Time `dynamodbav:"at" json:"at"`
	// Actor is the verified sub of the user or operator, or the name of a
	// system actor.
	Actor     string    `dynamodbav:"actor" json:"actor"`
	ActorKind ActorKind `dynamodbav:"actorKind,omitempty" json:"actorKind,omitempty"`
	// Action is the route's name for a request ("CreateProduct"), the
	// verb of a system step ("provisioned", "restore-started").
	Action string `dynamodbav:"action" json:"action"`
	// Resource is what the action was on, as the route's path names it
	// without its version ("products/01J…", "tenants/t-…/tier").
	Resource  string `dynamodbav:"resource,omitempty" json:"resource,omitempty"`
	RequestID string `dynamodbav:"requestId,omitempty" json:"requestId,omitempty"`
	// Outcome is a request's HTTP status ("201"), or Succeeded / Failed.
	Outcome string `dynamodbav:"outcome,omitempty" json:"outcome,omitempty"`
	Detail  string `dynamodbav:"detail,omitempty" json:"detail,omitempty"`
	// Tier is the tenant's tier when the entry was written, which chose
	// its retention; empty when the writer did not know it.
	Tier catalog.Tier `dynamodbav:"tier,omitempty" json:"-"`
	// ExpiresAt is when DynamoDB's TTL may delete the entry (epoch
	// seconds): At plus the tier's retention (Expiry).
	ExpiresAt int64 `dynamodbav:"expiresAt,omitempty" json:"expiresAt,omitempty"`
}

// Retention is how long the entries of a tier's tenants are kept; an
// unknown tier keeps them as long as the longest tier does.
func Retention(t catalog.Tier) time.Duration {
	days := 0
	if l, ok := plan.For(t); ok {
		days = l.AuditRetentionDays
	} else {
		for _, tier := range plan.Tiers {
			l, _ := plan.For(tier)
			days = max(days, l.AuditRetentionDays)
		}
	}
	return time.Duration(days) * 24 * time.Hour
}

// Expiry is the TTL value (epoch seconds) of an entry written at at for a
// tenant of tier t.
func Expiry(at time.Time, t catalog.Tier) int64 { return at.Add(Retention(t)).Unix() }

// Writer appends an entry to a tenant's trail, never overwriting one: a
// store.TenantData (the tenant's own scoped session) on tenant routes, the
// store.Catalog on operator routes.
type Writer interface {
	AppendAudit(ctx context.Context, e Entry) error
}

// Recorder follows one state-changing request: who made it, whether it
// changed something, and whether its entry is written. A nil *Recorder
// (a request that only reads) does nothing. Safe for concurrent use.
type Recorder struct {
	route     route.Route
	params    map[string]string
	requestID string

	mu       sync.Mutex
	actor    string
	kind     ActorKind
	tenantID string
	tier     catalog.Tier
	w        Writer
	changed  bool
	outcome  string
	stamped  *Entry
	audited  bool
}

type ctxKey struct{}

// NewContext returns ctx carrying r.
func NewContext(ctx context.Context, r *Recorder) context.Context {
	return context.WithValue(ctx, ctxKey{}, r)
}

// FromContext returns the recorder in ctx, or nil.
func FromContext(ctx context.Context) *Recorder {
	r, _ := ctx.Value(ctxKey{}).(*Recorder)
	return r
}

// Begin returns the recorder of a request to a route of table, and ctx
// carrying it; for a route that only reads (GET, HEAD) or that table does
// not have, ctx as it is and nil.
func Begin(ctx context.Context, table []route.Route, req events.APIGatewayProxyRequest) (context.Context, *Recorder) {
	r, ok := route.ByKeyIn(table, req.HTTPMethod+" "+req.Resource)
	if !ok || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return ctx, nil
	}
	rec := &Recorder{route: r, params: req.PathParameters, requestID: req.RequestContext.RequestID}
	return NewContext(ctx, rec), rec
}

// Identify records the verified caller and where its entry goes: tenantID
// and tier on tenant routes ("" on operator routes: the path's tenant, or
// the one a create answers with), and the writer.
func (r *Recorder) Identify(actor string, kind ActorKind, tenantID string, tier catalog.Tier, w Writer) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.actor, r.kind, r.tenantID, r.tier, r.w = actor, kind, tenantID, tier, w
}

// Mark records that the request of ctx changed something (a write
// succeeded). The store calls it after each successful write.
func Mark(ctx context.Context) {
	if r := FromContext(ctx); r != nil {
		r.mu.Lock()
		r.changed = true
		r.mu.Unlock()
	}
}

// Expect records the status the endpoint of ctx's request answers once the
// change it is about to make commits: the outcome of an entry written in
// that change's transaction (Stamp).
func Expect(ctx context.Context, status int) {
	if r := FromContext(ctx); r != nil {
		r.mu.Lock()
		r.outcome = strconv.Itoa(status)
		r.mu.Unlock()
	}
}

// Stamp makes e, an entry about to be written in the same transaction as
// a change of tenantID, the entry of ctx's request, unless the request has
// one already or is not identified: the request's actor, action, resource,
// request id and expected outcome (Expect; Succeeded without it), with e's
// own verb and detail kept as its detail. The writer calls Committed once
// the transaction succeeded.
func Stamp(ctx context.Context, tenantID string, e *Entry) {
	r := FromContext(ctx)
	if r == nil || e == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.audited || r.actor == "" {
		return
	}
	created := ""
	if _, ok := r.params["id"]; !ok {
		created = tenantID // the route creates the tenant
	}
	detail := e.Action
	if e.Detail != "" {
		detail += ": " + e.Detail
	}
	e.Actor, e.ActorKind, e.Action = r.actor, r.kind, r.route.Name
	e.Resource, e.RequestID, e.Detail = r.resource(created), r.requestID, detail
	e.Outcome = r.outcome
	if e.Outcome == "" {
		e.Outcome = Succeeded
	}
	r.stamped = e
}

// Committed records that e, stamped by Stamp, is written: the request has
// its entry, and Finish writes none.
func Committed(ctx context.Context, e *Entry) {
	r := FromContext(ctx)
	if r == nil || e == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stamped == e {
		r.audited = true
	}
}

// Finish writes the request's entry once its response is known, unless it
// has one: when status is below 400, or when the request changed
// something although it failed. A request that was never identified
// (unauthenticated, unknown route) is not audited: it reached no data. A
// failed write is logged: the change stands, and its answer is not changed.
func (r *Recorder) Finish(ctx context.Context, status int, body string, log *slog.Logger) {
	if r == nil {
		return
	}
	r.mu.Lock()
	skip := r.audited || r.w == nil || r.actor == "" || (status >= http.StatusBadRequest && !r.changed)
	e := Entry{Actor: r.actor, ActorKind: r.kind, Action: r.route.Name, RequestID: r.requestID,
		Outcome: strconv.Itoa(status), Tier: r.tier, TenantID: r.tenantID}
	w := r.w
	r.mu.Unlock()
	if skip {
		return
	}
	var answer map[string]any
	if status < http.StatusBadRequest && body != "" {
		_ = json.Unmarshal([]byte(body), &answer) // not an object: nothing to take from it
	}
	if e.TenantID == "" {
		e.TenantID = r.pathTenant()
		if e.TenantID == "" {
			if id, _ := answer["tenantId"].(string); tenant.ValidID(id) {
				e.TenantID = id
			} else {
				e.TenantID = DeploymentTrail
			}
		}
	}
	created := ""
	if !r.endsInParam() {
		created, _ = answer["id"].(string)
		if created == "" && e.TenantID != DeploymentTrail && r.pathTenant() == "" {
			created, _ = answer["tenantId"].(string)
		}
	}
	e.Resource = r.resource(created)
	if status >= http.StatusBadRequest {
		e.Detail = "failed after a change was written"
	}
	if err := w.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		log.Error("audit entry not written", "tenantId", e.TenantID, "action", e.Action, "error", err.Error())
	}
}

// pathTenant is the tenant an operator route's path names
// ("/v1/tenants/{id}..."), or "".
func (r *Recorder) pathTenant() string {
	if !strings.HasPrefix(r.route.Path, "/v1/tenants/{id}") {
		return ""
	}
	if id := r.params["id"]; tenant.ValidID(id) {
		return id
	}
	return ""
}

// endsInParam reports whether the route's path ends in a parameter
// ("/v1/products/{id}"): it acts on an existing resource, not a new one.
func (r *Recorder) endsInParam() bool { return strings.HasSuffix(r.route.Path, "}") }

// resource is the route's path with its parameters filled in and without
// "/v1/", and "/"+created when set.
func (r *Recorder) resource(created string) string {
	segs := strings.Split(strings.TrimPrefix(r.route.Path, "/v1/"), "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segs[i] = r.params[s[1:len(s)-1]]
		}
	}
	if created != "" {
		segs = append(segs, created)
	}
	return strings.Join(segs, "/")
}
