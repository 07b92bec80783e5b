package tenantapi_test

import (
	"context"
	"net/http"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/local/testenv/apievent"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// tenantItems is everything the tenant has stored in the pooled table, by
// partition, read directly from the table.
func (s *suite) tenantItems(t *testing.T, tenantID string) map[string][]map[string]types.AttributeValue {
	t.Helper()
	out := map[string][]map[string]types.AttributeValue{}
	for _, e := range []string{"PRODUCT", "SKU", "ORDER", "USER", "INVITES", "EXPORT"} {
		out[e] = s.partition(t, tenantID, e)
	}
	return out
}

// TestRestoringTenantReadsButDoesNotWrite: while an in-place restore runs,
// the tenant is RESTORING. Its reads are answered as usual; every write
// route answers 503 tenant_restoring with Retry-After and writes nothing.
// Active again, it writes; suspended, it does not even read.
func TestRestoringTenantReadsButDoesNotWrite(t *testing.T) {
	s := newSuite(t)
	ctx := context.Background()
	acme := fixture.NewTenant(t, s.e, "acme").Record
	id := acme.TenantID
	p := s.do(t, request(t, id, "POST", "/v1/products", nil, `{"name":"Anvil","sku":"ANV-1","price":{"amount":1999,"currency":"EUR"}}`))
	if p.Status != http.StatusCreated {
		t.Fatalf("create product: %+v", p)
	}
	pid := p.Body["id"].(string)
	o := s.do(t, request(t, id, "POST", "/v1/orders", nil, `{"productId":"`+pid+`","quantity":1,"customer":{"name":"Ann","email":"ann@example.com"}}`))
	if o.Status != http.StatusCreated {
		t.Fatalf("create order: %+v", o)
	}
	oid := o.Body["id"].(string)
	cat := store.NewCatalog(s.ddb, s.e.Settings.CatalogTable)
	if _, err := cat.Apply(ctx, id, store.Change{From: []catalog.Status{catalog.StatusActive}, To: catalog.StatusRestoring}, nil, nil); err != nil {
		t.Fatal(err)
	}
	before := s.tenantItems(t, id)

	product, order := map[string]string{"id": pid}, map[string]string{"id": oid}
	reads := []struct {
		name string
		ev   events.APIGatewayProxyRequest
		n    int // items in a list; 0: a single resource, -1: a list of any length
	}{
		{"list products", request(t, id, "GET", "/v1/products", nil, ""), 1},
		{"get product", request(t, id, "GET", "/v1/products/{id}", product, ""), 0},
		{"list orders", request(t, id, "GET", "/v1/orders", nil, ""), 1},
		{"get order", request(t, id, "GET", "/v1/orders/{id}", order, ""), 0},
		{"list users", request(t, id, "GET", "/v1/users", nil, ""), -1},
	}
	for _, tc := range reads {
		t.Run("read/"+tc.name, func(t *testing.T) {
			r := s.do(t, tc.ev)
			if r.Status != http.StatusOK {
				t.Fatalf("got %d %q (%v), want 200", r.Status, r.Code, r.Body)
			}
			items, isList := r.Body["items"].([]any)
			if tc.n != 0 && !isList || tc.n > 0 && len(items) != tc.n {
				t.Fatalf("items %v, want a list of %d", r.Body["items"], tc.n)
			}
			if tc.n == 0 && r.Body["id"] != tc.ev.PathParameters["id"] {
				t.Fatalf("read %v, want id %s", r.Body["id"], tc.ev.PathParameters["id"])
			}
		})
	}

	writes := append(dataWrites(t, id, pid, product, order),
		namedRequest{"invite user", request(t, id, "POST", "/v1/users", nil, `{"email":"new-member@acme.test","role":"member"}`)})
	for _, tc := range writes {
		t.Run("write/"+tc.name, func(t *testing.T) {
			resp, err := s.h.Handle(ctx, apievent.Fresh(t, tc.ev))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Headers["Retry-After"] != "5" {
				t.Fatalf("got %d, Retry-After %q: %s; want 503 with Retry-After 5", resp.StatusCode, resp.Headers["Retry-After"], resp.Body)
			}
			r := s.do(t, tc.ev) // the same again, through the shared reader of bodies
			if r.Status != http.StatusServiceUnavailable || r.Code != edge.CodeTenantRestoring {
				t.Fatalf("got %d %q (%v), want 503 %s", r.Status, r.Code, r.Body, edge.CodeTenantRestoring)
			}
			if msg, _ := r.Body["error"].(map[string]any)["message"].(string); msg == "" {
				t.Fatal("error without a message")
			}
			if after := s.tenantItems(t, id); !reflect.DeepEqual(after, before) {
				t.Fatalf("a refused write changed the tenant's items:\n before %v\n after  %v", before, after)
			}
		})
	}

	// The restore ends: writes work again.
	if _, err := cat.Apply(ctx, id, store.Change{From: []catalog.Status{catalog.StatusRestoring}, To: catalog.StatusActive}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if r := s.do(t, writes[0].ev); r.Status != http.StatusCreated {
		t.Fatalf("write after the restore = %+v, want 201", r)
	}
	// A suspended tenant neither reads nor writes (403).
	if _, err := cat.Apply(ctx, id, store.Change{From: []catalog.Status{catalog.StatusActive}, To: catalog.StatusSuspended}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if r := s.do(t, reads[0].ev); r.Status != http.StatusForbidden || r.Code != edge.CodeTenantSuspended {
		t.Fatalf("read of a suspended tenant = %+v, want 403 %s", r, edge.CodeTenantSuspended)
	}
}

// namedRequest is one case of a table of requests.
type namedRequest struct {
	name string
	ev   events.APIGatewayProxyRequest
}

// dataWrites are the tenant's writes of its data, one per write route
// (the product pid with path parameters product, the order with order).
func dataWrites(t *testing.T, id, pid string, product, order map[string]string) []namedRequest {
	return []namedRequest{
		{"create product", request(t, id, "POST", "/v1/products", nil, `{"name":"Bolt","sku":"BLT-1","price":{"amount":5,"currency":"EUR"}}`)},
		{"update product", request(t, id, "PUT", "/v1/products/{id}", product, `{"name":"Anvil 2","sku":"ANV-1","price":{"amount":1999,"currency":"EUR"},"version":1}`)},
		{"delete product", request(t, id, "DELETE", "/v1/products/{id}", product, "")},
		{"create order", request(t, id, "POST", "/v1/orders", nil, `{"productId":"`+pid+`","quantity":2,"customer":{"name":"Bob","email":"bob@example.com"}}`)},
		{"update order", request(t, id, "PUT", "/v1/orders/{id}", order, `{"productId":"`+pid+`","quantity":3,"customer":{"name":"Ann","email":"ann@example.com"},"status":"confirmed","version":1}`)},
		{"delete order", request(t, id, "DELETE", "/v1/orders/{id}", order, "")},
		{"create export", request(t, id, "POST", "/v1/exports", nil, "")},
	}
}
