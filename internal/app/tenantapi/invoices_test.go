package tenantapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/edge"
)

// TestListInvoicesOfTheScriptedMonth: an admin reads the invoice of the
// scripted month (tier change on the 11th) and gets the figure computed by
// hand in internal/platform/invoice; another tenant sees none of it; a
// member is refused; a bad month is 400; no month is the current month's
// draft.
func TestListInvoicesOfTheScriptedMonth(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme")
	globex := fixture.NewTenant(t, s.e, "globex")
	id := acme.Record.TenantID
	fixture.WriteBillingMonth(t, s.e, id)

	get := func(tenantID string, query map[string]string) result {
		ev := request(t, tenantID, "GET", "/v1/billing/invoices", nil, "")
		ev.QueryStringParameters = query
		return s.do(t, ev)
	}
	r := get(id, map[string]string{"month": fixture.BillingMonthName})
	items, _ := r.Body["items"].([]any)
	if r.Status != http.StatusOK || len(items) != 1 {
		t.Fatalf("invoice = %+v", r)
	}
	inv := items[0].(map[string]any)
	if inv["totalCents"] != float64(fixture.BillingMonthTotal) || inv["tenantId"] != id || inv["month"] != "2026-11" ||
		inv["draft"] != false || inv["currency"] != "usd" {
		t.Fatalf("invoice = %v, want total %d cents, final, of %s", inv, fixture.BillingMonthTotal, id)
	}
	lines := inv["lines"].([]any)
	if len(lines) != 6 || lines[0].(map[string]any)["tier"] != "basic" || lines[3].(map[string]any)["tier"] != "premium" ||
		lines[1].(map[string]any)["requests"] != float64(72_000) || lines[4].(map[string]any)["requests"] != float64(475_500) {
		t.Fatalf("lines = %v, want basic Nov 1-10 (72,000 requests), premium Nov 11-30 (475,500)", lines)
	}

	// Globex's invoice of the same month: it did not exist (created today).
	if g := get(globex.Record.TenantID, map[string]string{"month": "2026-11"}); g.Status != 200 || len(g.Body["items"].([]any)) != 0 {
		t.Fatalf("globex's November = %+v, want no invoice (none of acme's usage)", g)
	}
	// Default: the current month, a draft.
	cur := get(id, nil)
	if cur.Status != 200 || len(cur.Body["items"].([]any)) != 1 {
		t.Fatalf("current month = %+v", cur)
	}
	if d := cur.Body["items"].([]any)[0].(map[string]any); d["draft"] != true || d["month"] != time.Now().UTC().Format("2006-01") {
		t.Fatalf("current month = %v, want this month's draft", d)
	}
	for _, bad := range []string{"2026-13", "2026-1", "", "november", "2026-11-01"} {
		if r := get(id, map[string]string{"month": bad}); r.Status != 400 || r.Code != edge.CodeValidation {
			t.Errorf("month %q = %+v, want 400 validation_failed", bad, r)
		}
	}
	member := request(t, id, "GET", "/v1/billing/invoices", nil, "")
	member.RequestContext.Authorizer["role"] = "member"
	member.QueryStringParameters = map[string]string{"month": "2026-11"}
	if r := s.do(t, member); r.Status != 403 || r.Code != edge.CodeForbidden || r.Body["items"] != nil {
		t.Fatalf("member = %+v, want 403 forbidden", r)
	}
}
