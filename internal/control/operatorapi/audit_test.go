package operatorapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/local/testenv/apievent"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// TestOperatorActionsAuditedOnce: a create, a tier change and a
// suspension each leave exactly one entry in the tenant's trail (the one
// written in the transaction of the change), with the operator's sub, the
// route, the resource and the request id; refused requests leave none.
// Operators read it through GET /v1/tenants/{id}/audit, and the tenant's
// admins see the operators' entries in their own trail.
func TestOperatorActionsAuditedOnce(t *testing.T) {
	s := newSuite(t)
	h := s.tenants(t)
	cat := store.NewCatalog(store.NewClient(s.e.Config), s.e.Settings.CatalogTable)
	ctx := context.Background()
	var sub string
	send := func(method, resource string, params map[string]string, body, requestID string) result {
		t.Helper()
		ev := apievent.Fresh(t, operatorRequest(t, method, resource, params, body, "operators"))
		ev.RequestContext.RequestID = requestID
		sub, _ = ev.RequestContext.Authorizer["claims"].(map[string]any)["sub"].(string)
		return doTenants(t, h, ev)
	}
	read := func(id string, q map[string]string) result {
		t.Helper()
		ev := operatorRequest(t, "GET", "/v1/tenants/{id}/audit", map[string]string{"id": id}, "", "operators")
		ev.QueryStringParameters = q
		return doTenants(t, h, ev)
	}
	type want struct{ action, resource, requestID, outcome string }
	check := func(id string, wants []want) {
		t.Helper()
		r := read(id, nil)
		items, _ := r.Body["items"].([]any)
		if r.Status != http.StatusOK || len(items) != len(wants) {
			t.Fatalf("audit of %s = %+v, want %d entries", id, r, len(wants))
		}
		for i, w := range wants {
			e := items[i].(map[string]any)
			if e["action"] != w.action || e["resource"] != w.resource || e["requestId"] != w.requestID || e["outcome"] != w.outcome ||
				e["actor"] != sub || e["actorKind"] != "operator" || e["tenantId"] != id {
				t.Errorf("entry %d = %v, want %+v by %s", i, e, w, sub)
			}
		}
	}

	created := send("POST", "/v1/tenants", nil, `{"name":"Hooli","tier":"standard","adminEmail":"gavin@hooli.test"}`, "req-create")
	if created.Status != http.StatusAccepted {
		t.Fatalf("create = %+v", created)
	}
	id := created.Body["tenantId"].(string)
	check(id, []want{{"CreateTenant", "tenants/" + id, "req-create", "202"}})

	// An onboarded tenant: its tier changes, it is suspended; a refused
	// change (a bad tier; a tier change while provisioning) leaves nothing.
	acme := fixture.NewTenant(t, s.e, "acme").Record
	if r := send("PUT", "/v1/tenants/{id}/tier", map[string]string{"id": acme.TenantID}, `{"tier":"gold"}`, "req-bad-tier"); r.Status != 400 {
		t.Fatalf("bad tier = %+v", r)
	}
	if r := send("PUT", "/v1/tenants/{id}/tier", map[string]string{"id": id}, `{"tier":"basic"}`, "req-early"); r.Status != http.StatusConflict {
		t.Fatalf("tier change while provisioning = %+v", r)
	}
	check(id, []want{{"CreateTenant", "tenants/" + id, "req-create", "202"}})
	if r := send("PUT", "/v1/tenants/{id}/tier", map[string]string{"id": acme.TenantID}, `{"tier":"standard"}`, "req-tier"); r.Status != http.StatusOK {
		t.Fatalf("tier = %+v", r)
	}
	tierEntry := want{"ChangeTenantTier", "tenants/" + acme.TenantID + "/tier", "req-tier", "200"}
	check(acme.TenantID, []want{tierEntry})
	// The tenant's admin sees it in its own trail.
	own := s.do(t, request(t, acme.TenantID, "GET", "/v1/audit", nil, ""))
	items, _ := own.Body["items"].([]any)
	if own.Status != http.StatusOK || len(items) != 1 || items[0].(map[string]any)["requestId"] != "req-tier" || items[0].(map[string]any)["actorKind"] != "operator" {
		t.Fatalf("the admin's GET /v1/audit = %+v", own)
	}
	if r := send("POST", "/v1/tenants/{id}/suspend", map[string]string{"id": acme.TenantID}, `{"reason":"unpaid"}`, "req-suspend"); r.Status != http.StatusOK {
		t.Fatalf("suspend = %+v", r)
	}
	check(acme.TenantID, []want{tierEntry, {"SuspendTenant", "tenants/" + acme.TenantID + "/suspend", "req-suspend", "200"}})
	entries, err := cat.AuditTrail(ctx, acme.TenantID)
	if err != nil || entries[1].Detail != "suspend: unpaid" || entries[1].Tier != catalog.TierStandard {
		t.Fatalf("suspend entry = %+v, %v", entries, err)
	}

	// Reading: pages, and refusals.
	first := read(acme.TenantID, map[string]string{"limit": "1"})
	next, _ := first.Body["nextCursor"].(string)
	if first.Status != http.StatusOK || next == "" {
		t.Fatalf("first page = %+v", first)
	}
	second := read(acme.TenantID, map[string]string{"limit": "1", "cursor": next})
	items, _ = second.Body["items"].([]any)
	if second.Status != http.StatusOK || len(items) != 1 || items[0].(map[string]any)["requestId"] != "req-suspend" {
		t.Fatalf("second page = %+v", second)
	}
	for _, tc := range []struct {
		name   string
		ev     events.APIGatewayProxyRequest
		status int
		code   string
	}{
		{"bad id", operatorRequest(t, "GET", "/v1/tenants/{id}/audit", map[string]string{"id": "T#1"}, "", "operators"), 400, edge.CodeInvalidID},
		{"a tenant admin", request(t, acme.TenantID, "GET", "/v1/tenants/{id}/audit", map[string]string{"id": acme.TenantID}, ""), 403, edge.CodeForbidden},
		{"cursor of another tenant", func() events.APIGatewayProxyRequest {
			ev := operatorRequest(t, "GET", "/v1/tenants/{id}/audit", map[string]string{"id": id}, "", "operators")
			ev.QueryStringParameters = map[string]string{"cursor": next}
			return ev
		}(), 400, edge.CodeInvalidCursor},
	} {
		if r := doTenants(t, h, tc.ev); r.Status != tc.status || (tc.code != "" && r.Code != tc.code) {
			t.Errorf("%s: %+v, want %d %s", tc.name, r, tc.status, tc.code)
		}
	}
}
