package gateway_test

import (
	"net/http"
	"testing"

	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
)

// TestAuditThroughTheGateway: a write through the gateway (with the tenant
// authorizer, as API Gateway runs it) is in the tenant's trail with the
// request id the gateway gave it, and in no other tenant's.
func TestAuditThroughTheGateway(t *testing.T) {
	s := newStack(t)
	acme := fixture.NewTenant(t, s.e, "acme")
	globex := fixture.NewTenant(t, s.e, "globex")
	pid := s.mustCreate(t, acme.Token, "/v1/products", productJSON("AUD-1"))
	if r := s.call(t, acme.Token, "POST", "/v1/products", productJSON("AUD-1")); r.Status != http.StatusConflict {
		t.Fatalf("duplicate sku = %d %s", r.Status, r.Raw)
	}
	r := s.call(t, acme.Token, "GET", "/v1/audit?limit=10", "")
	entries := items(r)
	if r.Status != http.StatusOK || len(entries) != 1 {
		t.Fatalf("acme's trail = %d %s", r.Status, r.Raw)
	}
	e := entries[0].(map[string]any)
	if e["action"] != "CreateProduct" || e["resource"] != "products/"+pid || e["outcome"] != "201" || e["actorKind"] != "user" ||
		e["actor"] == "" || e["requestId"] == "" || e["tenantId"] != acme.Record.TenantID {
		t.Fatalf("entry = %v", e)
	}
	if r := s.call(t, globex.Token, "GET", "/v1/audit", ""); r.Status != http.StatusOK || len(items(r)) != 0 {
		t.Fatalf("globex's trail = %d %s", r.Status, r.Raw)
	}
	if r := s.call(t, acme.Token, "GET", "/v1/audit?from=yesterday", ""); r.Status != http.StatusBadRequest || r.Code != "validation_failed" {
		t.Fatalf("bad from = %d %s", r.Status, r.Raw)
	}
}
