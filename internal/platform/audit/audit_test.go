package audit_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/audit"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/route"
)

// entries records what the hook appends (a Writer of the test's own).
type entries struct {
	got []audit.Entry
	err error
}

func (w *entries) AppendAudit(_ context.Context, e audit.Entry) error {
	w.got = append(w.got, e)
	return w.err
}

func proxy(method, resource string, params map[string]string) events.APIGatewayProxyRequest {
	return events.APIGatewayProxyRequest{HTTPMethod: method, Resource: resource, PathParameters: params,
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req-1"}}
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestBeginOnlyWrites(t *testing.T) {
	for _, tc := range []struct {
		method, resource string
		audited          bool
	}{
		{"GET", "/v1/products", false},
		{"GET", "/v1/audit", false},
		{"POST", "/v1/products", true},
		{"DELETE", "/v1/products/{id}", true},
		{"PUT", "/v1/tenants/{id}/tier", true},
		{"POST", "/v1/nowhere", false},
	} {
		ctx, r := audit.Begin(context.Background(), route.All, proxy(tc.method, tc.resource, nil))
		if (r != nil) != tc.audited || (audit.FromContext(ctx) != nil) != tc.audited {
			t.Errorf("%s %s: recorder %v, want audited=%v", tc.method, tc.resource, r, tc.audited)
		}
	}
	// Every write route of both APIs is audited, reads none: the route
	// table decides, so new routes need no code.
	for _, r := range route.All {
		_, rec := audit.Begin(context.Background(), route.All, proxy(r.Method, r.Path, nil))
		if write := r.Method != "GET" && r.Method != "HEAD"; (rec != nil) != write {
			t.Errorf("route %s: audited=%v", r.Name, rec != nil)
		}
	}
}

func TestFinish(t *testing.T) {
	const tid = "t-01jz0000000000000000000000"
	tests := []struct {
		name     string
		method   string
		resource string
		params   map[string]string
		identify bool
		tenant   string // Identify's tenant ("" on operator routes)
		changed  bool
		status   int
		body     string
		want     *audit.Entry
	}{
		{name: "created", method: "POST", resource: "/v1/products", identify: true, tenant: tid, status: 201, body: `{"id":"01JP"}`,
			want: &audit.Entry{TenantID: tid, Action: "CreateProduct", Resource: "products/01JP", Outcome: "201"}},
		{name: "updated", method: "PUT", resource: "/v1/orders/{id}", params: map[string]string{"id": "01JO"}, identify: true, tenant: tid,
			changed: true, status: 200, body: `{"id":"01JO"}`, want: &audit.Entry{TenantID: tid, Action: "UpdateOrder", Resource: "orders/01JO", Outcome: "200"}},
		{name: "no body", method: "DELETE", resource: "/v1/products/{id}", params: map[string]string{"id": "01JP"}, identify: true, tenant: tid,
			changed: true, status: 204, want: &audit.Entry{TenantID: tid, Action: "DeleteProduct", Resource: "products/01JP", Outcome: "204"}},
		{name: "refused, nothing written", method: "POST", resource: "/v1/products", identify: true, tenant: tid, status: 409,
			body: `{"error":{"code":"sku_conflict"}}`},
		{name: "failed after a write", method: "POST", resource: "/v1/users", identify: true, tenant: tid, changed: true, status: 503,
			body: `{"error":{"code":"try_later"}}`,
			want: &audit.Entry{TenantID: tid, Action: "CreateUser", Resource: "users", Outcome: "503", Detail: "failed after a change was written"}},
		{name: "not identified", method: "POST", resource: "/v1/products", status: 401, changed: false},
		{name: "operator, tenant in the path", method: "POST", resource: "/v1/tenants/{id}/suspend", params: map[string]string{"id": tid},
			identify: true, status: 200, body: `{"tenantId":"` + tid + `"}`,
			want: &audit.Entry{TenantID: tid, Action: "SuspendTenant", Resource: "tenants/" + tid + "/suspend", Outcome: "200"}},
		{name: "operator create, tenant in the answer", method: "POST", resource: "/v1/tenants", identify: true, status: 200,
			body: `{"tenantId":"` + tid + `"}`, want: &audit.Entry{TenantID: tid, Action: "CreateTenant", Resource: "tenants/" + tid, Outcome: "200"}},
		{name: "operator, no tenant", method: "POST", resource: "/v1/tenants", identify: true, changed: true, status: 500,
			want: &audit.Entry{TenantID: audit.DeploymentTrail, Action: "CreateTenant", Resource: "tenants", Outcome: "500", Detail: "failed after a change was written"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &entries{}
			ctx, r := audit.Begin(context.Background(), route.All, proxy(tc.method, tc.resource, tc.params))
			if tc.identify {
				r.Identify("sub-1", audit.User, tc.tenant, catalog.TierBasic, w)
			}
			if tc.changed {
				audit.Mark(ctx)
			}
			r.Finish(ctx, tc.status, tc.body, discard)
			if tc.want == nil {
				if len(w.got) != 0 {
					t.Fatalf("wrote %+v, want nothing", w.got)
				}
				return
			}
			if len(w.got) != 1 {
				t.Fatalf("wrote %d entries, want 1", len(w.got))
			}
			want := *tc.want
			want.Actor, want.ActorKind, want.RequestID, want.Tier = "sub-1", audit.User, "req-1", catalog.TierBasic
			if w.got[0] != want {
				t.Errorf("entry = %+v\nwant    %+v", w.got[0], want)
			}
		})
	}
}

// TestStampedEntryIsTheRequests: an entry written in the transaction of
// the request's change becomes the request's own, and Finish writes no
// other; one that did not commit leaves Finish to write it.
func TestStampedEntryIsTheRequests(t *testing.T) {
	const tid = "t-01jz0000000000000000000000"
	for _, commit := range []bool{true, false} {
		w := &entries{}
		ctx, r := audit.Begin(context.Background(), route.All, proxy("PUT", "/v1/tenants/{id}/tier", map[string]string{"id": tid}))
		r.Identify("op-1", audit.Operator, "", "", w)
		audit.Expect(ctx, 200)
		e := &audit.Entry{Action: "change-tier", Actor: "op-1", Detail: "basic -> standard"}
		audit.Stamp(ctx, tid, e)
		want := audit.Entry{Action: "ChangeTenantTier", Actor: "op-1", ActorKind: audit.Operator, Resource: "tenants/" + tid + "/tier",
			RequestID: "req-1", Outcome: "200", Detail: "change-tier: basic -> standard"}
		if *e != want {
			t.Fatalf("stamped = %+v\nwant      %+v", *e, want)
		}
		if commit {
			audit.Committed(ctx, e)
			// A later entry of the same request (a system step it ran)
			// is not stamped again.
			later := &audit.Entry{Action: "provisioned", Actor: "provisioner"}
			audit.Stamp(ctx, tid, later)
			if later.RequestID != "" || later.Actor != "provisioner" {
				t.Errorf("later entry stamped: %+v", later)
			}
		}
		audit.Mark(ctx)
		r.Finish(ctx, 200, `{"tenantId":"`+tid+`"}`, discard)
		if n := len(w.got); (commit && n != 0) || (!commit && n != 1) {
			t.Errorf("commit=%v: Finish wrote %d entries", commit, n)
		}
	}
	// Without a request in ctx (a background step), nothing changes.
	e := &audit.Entry{Action: "provisioned", Actor: "provisioner"}
	audit.Stamp(context.Background(), tid, e)
	if *e != (audit.Entry{Action: "provisioned", Actor: "provisioner"}) {
		t.Errorf("stamped without a request: %+v", e)
	}
}

func TestFinishLogsAFailedWrite(t *testing.T) {
	w := &entries{err: errors.New("throttled")}
	ctx, r := audit.Begin(context.Background(), route.All, proxy("POST", "/v1/products", nil))
	r.Identify("sub-1", audit.User, "t-1x", catalog.TierBasic, w)
	var buf bytes.Buffer
	r.Finish(ctx, 201, `{"id":"01JP"}`, slog.New(slog.NewJSONHandler(&buf, nil)))
	if len(w.got) != 1 || !strings.Contains(buf.String(), `"audit entry not written"`) {
		t.Fatalf("wrote %v, logged %q", w.got, buf.String())
	}
}

func TestRetention(t *testing.T) {
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for tier, days := range map[catalog.Tier]int{catalog.TierBasic: 90, catalog.TierStandard: 365, catalog.TierPremium: 730, "": 730, "gold": 730} {
		if got := audit.Expiry(at, tier); got != at.AddDate(0, 0, days).Unix() {
			t.Errorf("%q: expiry %d, want %d days later", tier, got, days)
		}
	}
}

func TestOutcomeOf(t *testing.T) {
	for action, want := range map[string]string{"provisioned": audit.Succeeded, "provisioning-failed": audit.Failed,
		"restore-rolled-back": audit.Failed, "restore-started": audit.Succeeded, "migration-failed": audit.Failed} {
		if got := audit.OutcomeOf(action); got != want {
			t.Errorf("%s: %s, want %s", action, got, want)
		}
	}
}
