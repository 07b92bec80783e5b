package tenantapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/local/testenv/apievent"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/entityid"
	"github.com/tessera-saas/tessera/internal/platform/features"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// auditWant is what one entry of the trail must say.
type auditWant struct {
	action, resource, requestID, outcome string
}

// send sends ev as the request requestID and returns the result and the
// verified sub of its caller.
func (s *suite) send(t *testing.T, ev events.APIGatewayProxyRequest, requestID string) (result, string) {
	t.Helper()
	ev = apievent.Fresh(t, ev)
	ev.RequestContext.RequestID = requestID
	sub, _ := ev.RequestContext.Authorizer["sub"].(string)
	return s.do(t, ev), sub
}

// trail reads the tenant's whole trail through GET /v1/audit as its admin,
// pages of limit entries, following the cursors.
func (s *suite) trail(t *testing.T, tenantID string, limit int, query map[string]string) ([]map[string]any, int) {
	t.Helper()
	var out []map[string]any
	pages := 0
	cursor := ""
	for {
		ev := request(t, tenantID, "GET", "/v1/audit", nil, "")
		ev.QueryStringParameters = map[string]string{"limit": fmt.Sprint(limit)}
		for k, v := range query {
			ev.QueryStringParameters[k] = v
		}
		if cursor != "" {
			ev.QueryStringParameters["cursor"] = cursor
		}
		r := s.do(t, ev)
		if r.Status != http.StatusOK {
			t.Fatalf("GET /v1/audit = %+v", r)
		}
		pages++
		items, _ := r.Body["items"].([]any)
		if len(items) > limit {
			t.Fatalf("page of %d entries, limit %d", len(items), limit)
		}
		for _, it := range items {
			out = append(out, it.(map[string]any))
		}
		next, _ := r.Body["nextCursor"].(string)
		if next == "" {
			return out, pages
		}
		cursor = next
	}
}

// requests leaves out the entries the test wrote itself (fixture.Override).
func requests(entries []map[string]any) []map[string]any {
	return slices.DeleteFunc(entries, func(e map[string]any) bool { return e["actor"] == "test" })
}

// TestAuditRecordsEveryWrite: every write route of the tenant API done by
// a known user shows up in the tenant's trail with the user's sub, the
// route's name, the resource, the request id and the status; a request
// refused before it wrote anything leaves nothing; another tenant sees
// none of it; members may not read it.
func TestAuditRecordsEveryWrite(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	globex := fixture.NewTenant(t, s.e, "globex").Record
	id := acme.TenantID
	var want []auditWant
	var sub string
	do := func(method, resource string, params map[string]string, body string, status int, code string) result {
		t.Helper()
		rid := "req-" + entityid.New()
		r, caller := s.send(t, request(t, id, method, resource, params, body), rid)
		if r.Status != status || r.Code != code {
			t.Fatalf("%s %s = %+v, want %d %q", method, resource, r, status, code)
		}
		if sub == "" {
			sub = caller
		}
		if status < 400 {
			res := resource[len("/v1/"):]
			if pid, ok := params["id"]; ok {
				res = res[:len(res)-len("{id}")] + pid
			} else if created, ok := r.Body["id"].(string); ok {
				res += "/" + created
			}
			name := map[string]string{"POST /v1/products": "CreateProduct", "PUT /v1/products/{id}": "UpdateProduct",
				"DELETE /v1/products/{id}": "DeleteProduct", "POST /v1/orders": "CreateOrder", "PUT /v1/orders/{id}": "UpdateOrder",
				"DELETE /v1/orders/{id}": "DeleteOrder", "POST /v1/users": "CreateUser", "POST /v1/exports": "CreateExport"}[method+" "+resource]
			want = append(want, auditWant{name, res, rid, fmt.Sprint(status)})
		}
		return r
	}
	// Refused by an entitlement (a basic tenant may not export): no entry.
	// The override that grants it is the test's own entry (actor "test"),
	// which the comparisons below leave out.
	do("POST", "/v1/exports", nil, "", 403, edge.CodeNotEntitled)
	fixture.Override(t, s.e, id, features.Exports, true)
	product := `{"name":"Anvil","sku":"ANV-1","price":{"amount":1999,"currency":"EUR"}}`
	p := do("POST", "/v1/products", nil, product, 201, "")
	pid := p.Body["id"].(string)
	// Refused before anything was written: no entry.
	do("POST", "/v1/products", nil, `{"name":"Anvil","sku":"ANV-1","price":{"amount":1,"currency":"EUR"}}`, 409, edge.CodeSKUConflict)
	do("POST", "/v1/products", nil, `{"name":"","sku":"X-1","price":{"amount":1,"currency":"EUR"}}`, 400, edge.CodeValidation)
	do("PUT", "/v1/products/{id}", map[string]string{"id": entityid.New()}, `{"name":"B","sku":"B-1","price":{"amount":1,"currency":"EUR"},"version":1}`, 404, edge.CodeNotFound)
	do("PUT", "/v1/products/{id}", map[string]string{"id": pid}, `{"name":"Anvil 2","sku":"ANV-1","price":{"amount":2999,"currency":"EUR"},"version":7}`, 409, edge.CodeVersionConflict)
	do("PUT", "/v1/products/{id}", map[string]string{"id": pid}, `{"name":"Anvil 2","sku":"ANV-1","price":{"amount":2999,"currency":"EUR"},"version":1}`, 200, "")
	o := do("POST", "/v1/orders", nil, `{"productId":"`+pid+`","quantity":2,"customer":{"name":"Ann","email":"ann@example.com"}}`, 201, "")
	oid := o.Body["id"].(string)
	do("POST", "/v1/orders", nil, `{"productId":"`+entityid.New()+`","quantity":2,"customer":{"name":"Ann","email":"ann@example.com"}}`, 400, edge.CodeUnknownProduct)
	do("PUT", "/v1/orders/{id}", map[string]string{"id": oid}, `{"productId":"`+pid+`","quantity":3,"status":"confirmed","customer":{"name":"Ann","email":"ann@example.com"},"version":1}`, 200, "")
	do("DELETE", "/v1/orders/{id}", map[string]string{"id": oid}, "", 204, "")
	do("DELETE", "/v1/orders/{id}", map[string]string{"id": oid}, "", 404, edge.CodeNotFound)
	do("DELETE", "/v1/products/{id}", map[string]string{"id": pid}, "", 204, "")
	do("POST", "/v1/users", nil, `{"email":"audit-`+strings.ToLower(entityid.New())+`@acme.test","role":"member"}`, 202, "")
	do("POST", "/v1/users", nil, `{"email":"not-an-email","role":"member"}`, 400, edge.CodeValidation)
	do("POST", "/v1/exports", nil, "", 202, "")
	// Reads are not audited.
	do("GET", "/v1/products", nil, "", 200, "")
	want = slices.DeleteFunc(want, func(w auditWant) bool { return w.action == "" })

	entries, pages := s.trail(t, id, 3, nil)
	entries = requests(entries)
	if pages < 3 {
		t.Errorf("%d entries in %d pages of 3: the cursor was not followed", len(entries), pages)
	}
	if len(entries) != len(want) {
		t.Fatalf("trail has %d entries, want %d:\n got %v\nwant %v", len(entries), len(want), entries, want)
	}
	var prev time.Time
	for i, e := range entries {
		w := want[i]
		at, err := time.Parse(time.RFC3339Nano, e["at"].(string))
		if err != nil || at.Before(prev) {
			t.Errorf("entry %d at %v (%v): not oldest first", i, e["at"], err)
		}
		prev = at
		if e["action"] != w.action || e["resource"] != w.resource || e["requestId"] != w.requestID || e["outcome"] != w.outcome ||
			e["actor"] != sub || e["actorKind"] != "user" || e["tenantId"] != id {
			t.Errorf("entry %d = %v\nwant %+v by %s", i, e, w, sub)
		}
		// Retention of the basic tier: 90 days.
		if exp, _ := e["expiresAt"].(float64); int64(exp) != at.Add(90*24*time.Hour).Unix() {
			t.Errorf("entry %d expires at %v, want at + 90 days (%d)", i, e["expiresAt"], at.Add(90*24*time.Hour).Unix())
		}
	}

	// from and to: [from, to), and the cursor within them.
	from, to := entries[2]["at"].(string), entries[6]["at"].(string)
	ranged, _ := s.trail(t, id, 2, map[string]string{"from": from, "to": to})
	if len(ranged) != 4 || ranged[0]["requestId"] != want[2].requestID || ranged[3]["requestId"] != want[5].requestID {
		t.Errorf("from %s to %s: %v, want entries 2 to 5", from, to, ranged)
	}

	// Another tenant sees none of it, and its own writes only.
	if got, _ := s.trail(t, globex.TenantID, 100, nil); len(got) != 0 {
		t.Fatalf("globex's trail before it wrote = %v", got)
	}
	if r, _ := s.send(t, request(t, globex.TenantID, "POST", "/v1/products", nil, product), "req-globex"); r.Status != 201 {
		t.Fatalf("globex create = %+v", r)
	}
	if got, _ := s.trail(t, globex.TenantID, 100, nil); len(got) != 1 || got[0]["tenantId"] != globex.TenantID || got[0]["requestId"] != "req-globex" {
		t.Fatalf("globex's trail = %v", got)
	}
	if again, _ := s.trail(t, id, 100, nil); len(requests(again)) != len(want) {
		t.Fatalf("acme's trail after globex wrote: %d entries, want %d", len(again), len(want))
	}

	// Refusals: a member, bad times, bad pages, a cursor of acme's used by
	// globex.
	member := request(t, id, "GET", "/v1/audit", nil, "")
	member.RequestContext.Authorizer["role"] = "member"
	first := request(t, id, "GET", "/v1/audit", nil, "")
	first.QueryStringParameters = map[string]string{"limit": "1"}
	acmeCursor, _ := s.do(t, first).Body["nextCursor"].(string)
	if acmeCursor == "" {
		t.Fatal("no cursor after a page of one")
	}
	query := func(tenantID string, q map[string]string) events.APIGatewayProxyRequest {
		ev := request(t, tenantID, "GET", "/v1/audit", nil, "")
		ev.QueryStringParameters = q
		return ev
	}
	for _, tc := range []struct {
		name   string
		ev     events.APIGatewayProxyRequest
		status int
		code   string
	}{
		{"member", member, 403, edge.CodeForbidden},
		{"bad from", query(id, map[string]string{"from": "yesterday"}), 400, edge.CodeValidation},
		{"bad to", query(id, map[string]string{"to": "2026-13-01T00:00:00Z"}), 400, edge.CodeValidation},
		{"from after to", query(id, map[string]string{"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}), 400, edge.CodeValidation},
		{"bad limit", query(id, map[string]string{"limit": "0"}), 400, edge.CodeInvalidLimit},
		{"bad cursor", query(id, map[string]string{"cursor": "nope"}), 400, edge.CodeInvalidCursor},
		{"foreign cursor", query(globex.TenantID, map[string]string{"cursor": acmeCursor}), 400, edge.CodeInvalidCursor},
		{"cursor outside the range", query(id, map[string]string{"cursor": acmeCursor, "from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z"}), 400, edge.CodeInvalidCursor},
	} {
		if r := s.do(t, tc.ev); r.Status != tc.status || r.Code != tc.code {
			t.Errorf("%s: %+v, want %d %s", tc.name, r, tc.status, tc.code)
		}
	}
}

// TestAuditRetentionFollowsTier: an entry's TTL is its time plus the
// retention of the tier the tenant has when it is written.
func TestAuditRetentionFollowsTier(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	cat := store.NewCatalog(s.ddb, s.e.Settings.CatalogTable)
	write := func(rid string) {
		t.Helper()
		if r, _ := s.send(t, request(t, acme.TenantID, "POST", "/v1/products", nil,
			`{"name":"A","sku":"`+rid+`","price":{"amount":1,"currency":"EUR"}}`), rid); r.Status != 201 {
			t.Fatalf("create = %+v", r)
		}
	}
	write("R-1")
	if _, err := cat.Apply(context.Background(), acme.TenantID, store.Change{Tier: catalog.TierStandard}, nil, nil); err != nil {
		t.Fatal(err)
	}
	write("R-2")
	entries, err := cat.AuditTrail(context.Background(), acme.TenantID)
	if err != nil || len(entries) != 2 {
		t.Fatalf("trail = %+v, %v", entries, err)
	}
	for i, days := range []int{90, 365} {
		if e := entries[i]; e.ExpiresAt != e.At.Add(time.Duration(days)*24*time.Hour).Unix() || e.RequestID != fmt.Sprintf("R-%d", i+1) {
			t.Errorf("entry %d = %+v, want it to expire %d days after %s", i, e, days, e.At)
		}
	}
}
