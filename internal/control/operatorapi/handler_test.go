package operatorapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/control/operatorapi"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/apievent"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/wire"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type result = apievent.Result

var request = apievent.Request

// suite is the operator handler and the tenant app handler (through the
// composition root) on one emulator.
type suite struct {
	e   *testenv.Env
	app apievent.Handler
}

func newSuite(t *testing.T) *suite {
	e := testenv.Setup(t)
	s := e.Settings
	s.CatalogTTL = 0 // see lifecycle changes at once
	return &suite{e: e, app: wire.NewAPI(e.Config, s, slogDiscard(), nil).Handler.Handle}
}

func slogDiscard() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

// do sends a tenant app request.
func (s *suite) do(t *testing.T, ev events.APIGatewayProxyRequest) result {
	t.Helper()
	return apievent.Do(t, s.app, ev)
}

// operatorRequest is an API Gateway event of an operator (group operators,
// no tenant).
var operatorRequest = apievent.Operator

func (s *suite) tenants(t *testing.T) *operatorapi.Handler {
	return wire.NewTenants(s.e.Config, s.e.Settings, slogDiscard())
}

func doTenants(t *testing.T, h *operatorapi.Handler, ev events.APIGatewayProxyRequest) result {
	t.Helper()
	return apievent.Do(t, h.Handle, ev)
}

func TestOperatorAPI(t *testing.T) {
	s := newSuite(t)
	h := s.tenants(t)
	create := func(key, body string) result {
		ev := operatorRequest(t, "POST", "/v1/tenants", nil, body, "operators")
		if key != "" {
			ev.Headers["Idempotency-Key"] = key
		}
		return doTenants(t, h, ev)
	}
	body := `{"name":"Initech","tier":"premium","adminEmail":"boss@initech.test"}`
	first := create("k-initech-1", body)
	if first.Status != http.StatusAccepted || first.Body["status"] != "PROVISIONING" {
		t.Fatalf("create = %+v", first)
	}
	id := first.Body["tenantId"].(string)
	again := create("k-initech-1", body)
	if again.Status != http.StatusOK || again.Body["tenantId"] != id {
		t.Fatalf("retried create = %+v, want the same tenant %s", again, id)
	}
	if r := create("k-initech-1", `{"name":"Other","tier":"basic","adminEmail":"x@initech.test"}`); r.Status != http.StatusConflict || r.Code != edge.CodeIdempotencyMismatch {
		t.Fatalf("key reused for another request = %+v", r)
	}
	for name, tc := range map[string]struct {
		body, groups string
		status       int
		code         string
	}{
		"not an operator": {body, "admins", 403, edge.CodeForbidden},
		"no groups":       {body, "", 403, edge.CodeForbidden},
		"bad tier":        {`{"name":"X","tier":"gold","adminEmail":"a@b.test"}`, "operators", 400, edge.CodeValidation},
		"bad email":       {`{"name":"X","tier":"basic","adminEmail":"nope"}`, "operators", 400, edge.CodeValidation},
		"unknown field":   {`{"name":"X","tier":"basic","adminEmail":"a@b.test","tenantID":"t-mine"}`, "operators", 400, edge.CodeUnknownField},
		"chosen id":       {`{"name":"X","tier":"basic","adminEmail":"a@b.test","tenantId":"t-mine"}`, "operators", 400, edge.CodeValidation},
		"empty name":      {`{"name":" ","tier":"basic","adminEmail":"a@b.test"}`, "operators", 400, edge.CodeValidation},
		"malformed json":  {`{"name":`, "operators", 400, edge.CodeMalformedJSON},
	} {
		r := doTenants(t, h, operatorRequest(t, "POST", "/v1/tenants", nil, tc.body, tc.groups))
		if r.Status != tc.status || r.Code != tc.code {
			t.Errorf("%s: %d %q, want %d %q", name, r.Status, r.Code, tc.status, tc.code)
		}
	}
	// A tenant user (with a tenant claim, not an operator) is refused too.
	acme := fixture.NewTenant(t, s.e, "acme")
	userEv := request(t, acme.Record.TenantID, "GET", "/v1/tenants", nil, "")
	if r := doTenants(t, h, userEv); r.Status != 403 {
		t.Fatalf("tenant admin on the operator API = %+v", r)
	}

	get := doTenants(t, h, operatorRequest(t, "GET", "/v1/tenants/{id}", map[string]string{"id": id}, "", "operators"))
	if get.Status != 200 || get.Body["name"] != "Initech" || get.Body["tier"] != "premium" {
		t.Fatalf("get = %+v", get)
	}
	if r := doTenants(t, h, operatorRequest(t, "GET", "/v1/tenants/{id}", map[string]string{"id": "t-does-not-exist"}, "", "operators")); r.Status != 404 {
		t.Fatalf("get unknown = %+v", r)
	}
	if r := doTenants(t, h, operatorRequest(t, "GET", "/v1/tenants/{id}", map[string]string{"id": "T#1"}, "", "operators")); r.Status != 400 || r.Code != edge.CodeInvalidID {
		t.Fatalf("get malformed = %+v", r)
	}
	// Changing the tier of a tenant still provisioning is not possible
	// (TestTierChangeOnlyOnceOnboarded), nor is suspending it.
	tier := doTenants(t, h, operatorRequest(t, "PUT", "/v1/tenants/{id}/tier", map[string]string{"id": id}, `{"tier":"standard"}`, "operators"))
	if tier.Status != 409 || tier.Code != edge.CodeInvalidState {
		t.Fatalf("tier while provisioning = %+v", tier)
	}
	// Suspending a tenant still provisioning is not possible.
	if r := doTenants(t, h, operatorRequest(t, "POST", "/v1/tenants/{id}/suspend", map[string]string{"id": id}, "", "operators")); r.Status != 409 || r.Code != edge.CodeInvalidState {
		t.Fatalf("suspend while provisioning = %+v", r)
	}
	cat := store.NewCatalog(store.NewClient(s.e.Config), s.e.Settings.CatalogTable)
	// The create, written with the tenant, and its replay (200, which
	// changed nothing but answered below 400); none of the refused calls.
	audit, err := cat.AuditTrail(context.Background(), id)
	if err != nil || len(audit) != 2 || audit[0].Action != "CreateTenant" || audit[0].Outcome != "202" ||
		audit[1].Action != "CreateTenant" || audit[1].Outcome != "200" || audit[1].Resource != "tenants/"+id {
		t.Fatalf("audit = %+v, %v", audit, err)
	}
}

func TestOperatorListPaginates(t *testing.T) {
	s := newSuite(t)
	h := s.tenants(t)
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		r := doTenants(t, h, operatorRequest(t, "POST", "/v1/tenants", nil, `{"name":"L","tier":"basic","adminEmail":"l@l.test"}`, "operators"))
		seen[r.Body["tenantId"].(string)] = false
	}
	ev := operatorRequest(t, "GET", "/v1/tenants", nil, "", "operators")
	ev.QueryStringParameters = map[string]string{"limit": "2"}
	for pages := 0; pages < 100; pages++ {
		r := doTenants(t, h, ev)
		if r.Status != 200 {
			t.Fatalf("list = %+v", r)
		}
		for _, it := range r.Body["items"].([]any) {
			if id := it.(map[string]any)["tenantId"].(string); id != "" {
				if _, ok := seen[id]; ok {
					seen[id] = true
				}
			}
		}
		next, _ := r.Body["nextCursor"].(string)
		if next == "" {
			break
		}
		ev.QueryStringParameters = map[string]string{"limit": "2", "cursor": next}
	}
	for id, found := range seen {
		if !found {
			t.Fatalf("tenant %s missing from the paginated list", id)
		}
	}
}

func TestSuspendResumeAndOffboardThroughTheAPI(t *testing.T) {
	s := newSuite(t)
	h := s.tenants(t)
	acme := fixture.NewTenant(t, s.e, "acme")
	id := acme.Record.TenantID
	op := func(action string) result {
		return doTenants(t, h, operatorRequest(t, "POST", "/v1/tenants/{id}/"+action, map[string]string{"id": id}, `{"reason":"unpaid invoice"}`, "operators"))
	}
	if r := op("suspend"); r.Status != 200 || r.Body["status"] != "SUSPENDED" || r.Body["reason"] != "unpaid invoice" {
		t.Fatalf("suspend = %+v", r)
	}
	if r := op("suspend"); r.Status != 200 {
		t.Fatalf("second suspend = %+v", r)
	}
	for _, rt := range []struct{ method, resource string }{
		{"GET", "/v1/products"}, {"POST", "/v1/products"}, {"GET", "/v1/orders"}, {"GET", "/v1/users"},
	} {
		body := ""
		if rt.method == "POST" {
			body = `{"name":"A","sku":"S","price":{"amount":1,"currency":"EUR"}}`
		}
		if r := s.do(t, request(t, id, rt.method, rt.resource, nil, body)); r.Status != 403 || r.Code != edge.CodeTenantSuspended {
			t.Fatalf("suspended %s %s = %+v", rt.method, rt.resource, r)
		}
	}
	if r := op("resume"); r.Status != 200 || r.Body["status"] != "ACTIVE" {
		t.Fatalf("resume = %+v", r)
	}
	if r := s.do(t, request(t, id, "GET", "/v1/products", nil, "")); r.Status != 200 {
		t.Fatalf("resumed = %+v", r)
	}
	if r := op("offboard"); r.Status != http.StatusAccepted || r.Body["status"] != "OFFBOARDING" {
		t.Fatalf("offboard = %+v", r)
	}
	if r := s.do(t, request(t, id, "GET", "/v1/products", nil, "")); r.Status != 403 {
		t.Fatalf("offboarding tenant's user = %+v", r)
	}
	if r := op("resume"); r.Status != 409 {
		t.Fatalf("resume while offboarding = %+v", r)
	}
}
