package tenantapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/app/tenantapi"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/apievent"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/wire"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type suite struct {
	e   *testenv.Env
	h   *tenantapi.Handler
	ddb *dynamodb.Client
	log *bytes.Buffer
	emf *testenv.LogBuffer
}

func newSuite(t *testing.T) *suite {
	e := testenv.Setup(t)
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	s := e.Settings
	s.CatalogTTL = 0 // see lifecycle changes at once
	emf := &testenv.LogBuffer{}
	return &suite{e: e, h: wire.NewAPI(e.Config, s, log, emf).Handler, ddb: store.NewClient(e.Config), log: &buf, emf: emf}
}

// The requests and results of these tests come from the shared helper.
var (
	event   = apievent.Sample
	request = apievent.Request
)

type result = apievent.Result

func (s *suite) do(t *testing.T, ev events.APIGatewayProxyRequest) result {
	t.Helper()
	return apievent.Do(t, s.h.Handle, ev)
}

// items counts what the tenant has stored, read directly from the table.
func (s *suite) items(t *testing.T, tenantID string) int {
	t.Helper()
	n := 0
	for _, e := range []string{"PRODUCT", "SKU", "ORDER"} {
		out, err := s.ddb.Query(context.Background(), &dynamodb.QueryInput{
			TableName:                 aws.String(s.e.Settings.PooledTable),
			KeyConditionExpression:    aws.String("pk = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: tenantID + "#" + e}},
			Select:                    types.SelectCount,
		})
		if err != nil {
			t.Fatal(err)
		}
		n += int(out.Count)
	}
	return n
}

func TestReplaySampleEvents(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record

	created := s.do(t, event(t, "api-rest-create-product.json", acme.TenantID))
	if created.Status != http.StatusCreated || created.Body["sku"] != "ANV-1" || created.Body["version"] != float64(1) {
		t.Fatalf("create = %+v", created)
	}
	listed := s.do(t, event(t, "api-rest-list-products.json", acme.TenantID))
	items, _ := listed.Body["items"].([]any)
	if listed.Status != http.StatusOK || len(items) != 1 {
		t.Fatalf("list = %+v", listed)
	}
	if r := s.do(t, event(t, "api-rest-no-tenant-claim.json", "")); r.Status != http.StatusUnauthorized || r.Code != edge.CodeUnauthenticated {
		t.Fatalf("no tenant claim = %+v", r)
	}
	if n := s.items(t, acme.TenantID); n != 3 { // the product and its sku's two reservations (exact, lower case)
		t.Fatalf("stored %d items, want 3", n)
	}
}

func TestBadInputIsRejectedAndWritesNothing(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	id := acme.TenantID
	good := `{"name":"Anvil","sku":"ANV-1","price":{"amount":1999,"currency":"EUR"}}`
	seed := s.do(t, request(t, id, "POST", "/v1/products", nil, good))
	if seed.Status != http.StatusCreated {
		t.Fatalf("seed product: %+v", seed)
	}
	pid := seed.Body["id"].(string)
	orderBody := func(productID string, qty int) string {
		return `{"productId":"` + productID + `","quantity":` + itoa(qty) + `,"customer":{"name":"Ann","email":"ann@example.com"}}`
	}
	byID := map[string]string{"id": pid}
	tests := []struct {
		name   string
		ev     events.APIGatewayProxyRequest
		status int
		code   string
	}{
		{"malformed json", request(t, id, "POST", "/v1/products", nil, `{"name":`), 400, edge.CodeMalformedJSON},
		{"not an object", request(t, id, "POST", "/v1/products", nil, `[1,2]`), 400, edge.CodeInvalidType},
		{"two objects", request(t, id, "POST", "/v1/products", nil, good+good), 400, edge.CodeMalformedJSON},
		{"empty body", request(t, id, "POST", "/v1/products", nil, ``), 400, edge.CodeMalformedJSON},
		{"invalid utf8", request(t, id, "POST", "/v1/products", nil, "{\"name\":\"\xff\"}"), 400, edge.CodeMalformedJSON},
		{"wrong type", request(t, id, "POST", "/v1/products", nil, `{"name":"A","sku":"B","price":{"amount":"12","currency":"EUR"}}`), 400, edge.CodeInvalidType},
		{"unknown field", request(t, id, "POST", "/v1/products", nil, `{"name":"A","sku":"B","price":{"amount":1,"currency":"EUR"},"tenantId":"t-evil"}`), 400, edge.CodeUnknownField},
		{"missing price", request(t, id, "POST", "/v1/products", nil, `{"name":"A","sku":"B"}`), 400, edge.CodeValidation},
		{"bad currency", request(t, id, "POST", "/v1/products", nil, `{"name":"A","sku":"B","price":{"amount":1,"currency":"XXX1"}}`), 400, edge.CodeValidation},
		{"duplicate sku", request(t, id, "POST", "/v1/products", nil, good), 409, edge.CodeSKUConflict},
		{"body too large", request(t, id, "POST", "/v1/products", nil, `{"name":"A","sku":"B","price":{"amount":1,"currency":"EUR"},"description":"`+strings.Repeat("x", edge.MaxBodyBytes)+`"}`), 413, edge.CodeBodyTooLarge},
		{"wrong media type", func() events.APIGatewayProxyRequest {
			ev := request(t, id, "POST", "/v1/products", nil, good)
			ev.Headers["Content-Type"] = "text/plain"
			return ev
		}(), 415, edge.CodeUnsupportedMedia},
		{"update without version", request(t, id, "PUT", "/v1/products/{id}", byID, good), 400, edge.CodeValidation},
		{"stale version", request(t, id, "PUT", "/v1/products/{id}", byID, `{"name":"A","sku":"NEW","price":{"amount":1,"currency":"EUR"},"version":7}`), 409, edge.CodeVersionConflict},
		{"unknown product id", request(t, id, "GET", "/v1/products/{id}", map[string]string{"id": "01JCZ8W3T1K5Q7R9S2V4X6Y8Z0"}, ""), 404, edge.CodeNotFound},
		{"malformed id", request(t, id, "GET", "/v1/products/{id}", map[string]string{"id": "abc#PRODUCT"}, ""), 400, edge.CodeInvalidID},
		{"order of unknown product", request(t, id, "POST", "/v1/orders", nil, orderBody("01JCZ8W3T1K5Q7R9S2V4X6Y8Z0", 1)), 400, edge.CodeUnknownProduct},
		{"order quantity zero", request(t, id, "POST", "/v1/orders", nil, orderBody(pid, 0)), 400, edge.CodeValidation},
		{"order quantity negative", request(t, id, "POST", "/v1/orders", nil, orderBody(pid, -2)), 400, edge.CodeValidation},
		{"limit zero", withQuery(request(t, id, "GET", "/v1/products", nil, ""), "limit", "0"), 400, edge.CodeInvalidLimit},
		{"limit negative", withQuery(request(t, id, "GET", "/v1/products", nil, ""), "limit", "-1"), 400, edge.CodeInvalidLimit},
		{"limit huge", withQuery(request(t, id, "GET", "/v1/products", nil, ""), "limit", "1e9"), 400, edge.CodeInvalidLimit},
		{"garbage cursor", withQuery(request(t, id, "GET", "/v1/orders", nil, ""), "cursor", "not-a-cursor"), 400, edge.CodeInvalidCursor},
		{"unknown route", request(t, id, "PATCH", "/v1/products/{id}", byID, good), 404, edge.CodeRouteNotFound},
		{"no claims", func() events.APIGatewayProxyRequest {
			ev := request(t, id, "POST", "/v1/products", nil, `{"name":"B","sku":"B","price":{"amount":1,"currency":"EUR"}}`)
			ev.RequestContext.Authorizer = nil
			return ev
		}(), 401, edge.CodeUnauthenticated},
		{"unknown tenant", request(t, "t-nobody-here", "POST", "/v1/products", nil, `{"name":"B","sku":"B","price":{"amount":1,"currency":"EUR"}}`), 403, edge.CodeTenantUnknown},
	}
	before := s.items(t, id)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, tc.ev)
			if r.Status != tc.status || r.Code != tc.code {
				t.Fatalf("got %d %q (%v), want %d %q", r.Status, r.Code, r.Body, tc.status, tc.code)
			}
			if msg, _ := r.Body["error"].(map[string]any)["message"].(string); msg == "" {
				t.Fatal("error without a message")
			}
			if after := s.items(t, id); after != before {
				t.Fatalf("rejected request changed the tenant's items: %d -> %d", before, after)
			}
		})
	}
	if n := s.items(t, "t-nobody-here"); n != 0 {
		t.Fatalf("unknown tenant got %d items", n)
	}
}

func TestSuspendedTenantIsForbidden(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	cat := store.NewCatalog(s.ddb, s.e.Settings.CatalogTable)
	if _, err := cat.Apply(context.Background(), acme.TenantID, store.Change{From: []catalog.Status{catalog.StatusActive}, To: catalog.StatusSuspended}, nil, nil); err != nil {
		t.Fatal(err)
	}
	r := s.do(t, request(t, acme.TenantID, "POST", "/v1/products", nil, `{"name":"A","sku":"S","price":{"amount":1,"currency":"EUR"}}`))
	if r.Status != http.StatusForbidden || r.Code != edge.CodeTenantSuspended {
		t.Fatalf("suspended = %+v", r)
	}
	if n := s.items(t, acme.TenantID); n != 0 {
		t.Fatalf("suspended tenant wrote %d items", n)
	}
	if _, err := cat.Apply(context.Background(), acme.TenantID, store.Change{From: []catalog.Status{catalog.StatusSuspended}, To: catalog.StatusActive}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if r := s.do(t, event(t, "api-rest-list-products.json", acme.TenantID)); r.Status != http.StatusOK {
		t.Fatalf("resumed = %+v", r)
	}
}

func TestOrderCRUDAndLogsHoldNoSecrets(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	id := acme.TenantID
	p := s.do(t, request(t, id, "POST", "/v1/products", nil, `{"name":"A","sku":"S1","price":{"amount":5,"currency":"USD"}}`))
	pid := p.Body["id"].(string)
	o := s.do(t, request(t, id, "POST", "/v1/orders", nil, `{"productId":"`+pid+`","quantity":3,"customer":{"name":"Ann Secret","email":"ann.secret@example.com"}}`))
	if o.Status != http.StatusCreated || o.Body["status"] != "pending" {
		t.Fatalf("create order = %+v", o)
	}
	oid := o.Body["id"].(string)
	byID := map[string]string{"id": oid}
	got := s.do(t, request(t, id, "GET", "/v1/orders/{id}", byID, ""))
	if c := got.Body["customer"].(map[string]any); got.Status != 200 || c["email"] != "ann.secret@example.com" {
		t.Fatalf("get order = %+v", got)
	}
	upd := s.do(t, request(t, id, "PUT", "/v1/orders/{id}", byID, `{"productId":"`+pid+`","quantity":4,"customer":{"name":"Ann Secret","email":"ann.secret@example.com"},"status":"confirmed","version":1}`))
	if upd.Status != 200 || upd.Body["version"] != float64(2) || upd.Body["status"] != "confirmed" {
		t.Fatalf("update order = %+v", upd)
	}
	if r := s.do(t, request(t, id, "DELETE", "/v1/orders/{id}", byID, "")); r.Status != http.StatusNoContent {
		t.Fatalf("delete order = %+v", r)
	}
	if r := s.do(t, request(t, id, "GET", "/v1/orders/{id}", byID, "")); r.Status != http.StatusNotFound {
		t.Fatalf("deleted order = %+v", r)
	}
	logs, _ := io.ReadAll(s.log)
	for _, secret := range []string{"ann.secret@example.com", "Ann Secret", "eyJ"} {
		if bytes.Contains(logs, []byte(secret)) {
			t.Fatalf("logs contain %q", secret)
		}
	}
	if !bytes.Contains(logs, []byte(`"tenantId":"`+id+`"`)) {
		t.Fatalf("logs lack the tenant id: %s", logs)
	}
}

func withQuery(ev events.APIGatewayProxyRequest, k, v string) events.APIGatewayProxyRequest {
	ev.QueryStringParameters = map[string]string{k: v}
	return ev
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestTamperedCiphertextIs500WithoutInternals(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	id := acme.TenantID
	p := s.do(t, request(t, id, "POST", "/v1/products", nil, `{"name":"A","sku":"S1","price":{"amount":5,"currency":"USD"}}`))
	pid := p.Body["id"].(string)
	mk := func(email string) string {
		o := s.do(t, request(t, id, "POST", "/v1/orders", nil, `{"productId":"`+pid+`","quantity":1,"customer":{"name":"N","email":"`+email+`"}}`))
		return o.Body["id"].(string)
	}
	o1, o2 := mk("first@example.com"), mk("second@example.com")
	key := func(oid string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: id + "#ORDER"}, "sk": &types.AttributeValueMemberS{Value: oid}}
	}
	got, err := s.ddb.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(s.e.Settings.PooledTable), Key: key(o1)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ddb.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(s.e.Settings.PooledTable), Key: key(o2),
		UpdateExpression: aws.String("SET customerEmail = :v"), ExpressionAttributeValues: map[string]types.AttributeValue{":v": got.Item["customerEmail"]}}); err != nil {
		t.Fatal(err)
	}
	r := s.do(t, request(t, id, "GET", "/v1/orders/{id}", map[string]string{"id": o2}, ""))
	if r.Status != http.StatusInternalServerError || r.Code != edge.CodeInternal {
		t.Fatalf("tampered order = %+v", r)
	}
	if msg := r.Body["error"].(map[string]any)["message"]; msg != "internal error" {
		t.Fatalf("500 shows internals: %q", msg)
	}
	logs := s.log.String()
	if !strings.Contains(logs, "integrity") || !strings.Contains(logs, o2) || !strings.Contains(logs, `"tenantId":"`+id+`"`) {
		t.Fatalf("integrity failure not logged with tenant and item: %s", logs)
	}
	if strings.Contains(logs, "first@example.com") {
		t.Fatal("plaintext in logs")
	}
}
