package tenantapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/edge"
)

// storedAmount reads a product's price as stored, bypassing the API.
func (s *suite) storedAmount(t *testing.T, tenantID, productID string) string {
	t.Helper()
	out, err := s.ddb.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(s.e.Settings.PooledTable), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: tenantID + "#PRODUCT"}, "sk": &types.AttributeValueMemberS{Value: productID}}})
	if err != nil {
		t.Fatal(err)
	}
	n, ok := out.Item["priceAmount"].(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("product %s has no stored priceAmount: %v", productID, out.Item)
	}
	return n.Value
}

func errorMessage(r result) string {
	m, _ := r.Body["error"].(map[string]any)
	s, _ := m["message"].(string)
	return s
}

// A product whose price.amount is missing or null is refused (it used to be
// stored as 0, a silently free product); an explicit 0 is a free product.
func TestMissingOrNullPriceAmountIsRefusedOnPostAndPut(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	id := acme.TenantID
	seed := s.do(t, request(t, id, "POST", "/v1/products", nil, `{"name":"Anvil","sku":"ANV-1","price":{"amount":1999,"currency":"EUR"}}`))
	if seed.Status != http.StatusCreated {
		t.Fatalf("seed: %+v", seed)
	}
	pid := seed.Body["id"].(string)
	byID := map[string]string{"id": pid}
	refused := []struct{ name, method, body, want string }{
		{"post amount missing", "POST", `{"name":"A","sku":"FREE-1","price":{"currency":"EUR"}}`, "price.amount is required"},
		{"post amount null", "POST", `{"name":"A","sku":"FREE-2","price":{"amount":null,"currency":"EUR"}}`, "price.amount is required"},
		{"post currency missing", "POST", `{"name":"A","sku":"FREE-3","price":{"amount":5}}`, "price.currency is required"},
		{"post name null", "POST", `{"name":null,"sku":"FREE-4","price":{"amount":5,"currency":"EUR"}}`, "name is required"},
		{"put amount missing", "PUT", `{"name":"Anvil","sku":"ANV-1","price":{"currency":"EUR"},"version":1}`, "price.amount is required"},
		{"put amount null", "PUT", `{"name":"Anvil","sku":"ANV-1","price":{"amount":null,"currency":"EUR"},"version":1}`, "price.amount is required"},
		{"put price null", "PUT", `{"name":"Anvil","sku":"ANV-1","price":null,"version":1}`, "price is required"},
		{"put version null", "PUT", `{"name":"Anvil","sku":"ANV-1","price":{"amount":1,"currency":"EUR"},"version":null}`, "version is required"},
		{"order quantity missing", "POST", `{"productId":"` + pid + `","customer":{"name":"Ann","email":"ann@example.com"}}`, "quantity is required"},
		{"order email null", "POST", `{"productId":"` + pid + `","quantity":1,"customer":{"name":"Ann","email":null}}`, "customer.email is required"},
	}
	before := s.items(t, id)
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			ev := request(t, id, tc.method, "/v1/products", nil, tc.body)
			if tc.method == "PUT" {
				ev = request(t, id, "PUT", "/v1/products/{id}", byID, tc.body)
			}
			if strings.HasPrefix(tc.name, "order") {
				ev = request(t, id, "POST", "/v1/orders", nil, tc.body)
			}
			r := s.do(t, ev)
			if r.Status != http.StatusBadRequest || r.Code != edge.CodeValidation || errorMessage(r) != tc.want {
				t.Fatalf("got %d %q %q, want 400 %s %q", r.Status, r.Code, errorMessage(r), edge.CodeValidation, tc.want)
			}
			if after := s.items(t, id); after != before {
				t.Fatalf("refused request wrote: %d -> %d items", before, after)
			}
			if got := s.storedAmount(t, id, pid); got != "1999" {
				t.Fatalf("stored price changed to %s", got)
			}
		})
	}

	// A free product must be explicit, and then it is one.
	free := s.do(t, request(t, id, "POST", "/v1/products", nil, `{"name":"Sample","sku":"FREE-0","price":{"amount":0,"currency":"EUR"}}`))
	if free.Status != http.StatusCreated || free.Body["price"].(map[string]any)["amount"] != float64(0) {
		t.Fatalf("explicit 0 on POST: %+v", free)
	}
	upd := s.do(t, request(t, id, "PUT", "/v1/products/{id}", byID, `{"name":"Anvil","sku":"ANV-1","price":{"amount":0,"currency":"EUR"},"version":1}`))
	if upd.Status != http.StatusOK || upd.Body["version"] != float64(2) {
		t.Fatalf("explicit 0 on PUT: %+v", upd)
	}
	if got := s.storedAmount(t, id, pid); got != "0" {
		t.Fatalf("explicit 0 stored as %s", got)
	}
}

// PUT and POST name the JSON field and its JSON type alike; duplicate keys
// are refused instead of the last one winning; an empty cursor= is refused
// like an empty limit=.
func TestDecodeErrorsAreTheSameOnPostAndPut(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	id := acme.TenantID
	seed := s.do(t, request(t, id, "POST", "/v1/products", nil, `{"name":"Anvil","sku":"ANV-1","price":{"amount":1999,"currency":"EUR"}}`))
	if seed.Status != http.StatusCreated {
		t.Fatalf("seed: %+v", seed)
	}
	pid := seed.Body["id"].(string)
	byID := map[string]string{"id": pid}
	tests := []struct {
		name, method, body, code, want string
	}{
		{"post amount string", "POST", `{"name":"A","sku":"B","price":{"amount":"12","currency":"EUR"}}`, edge.CodeInvalidType, "field price.amount must be of type integer"},
		{"put amount string", "PUT", `{"name":"A","sku":"B","price":{"amount":"12","currency":"EUR"},"version":1}`, edge.CodeInvalidType, "field price.amount must be of type integer"},
		{"put amount fraction", "PUT", `{"name":"A","sku":"B","price":{"amount":19.99,"currency":"EUR"},"version":1}`, edge.CodeInvalidType, "field price.amount must be of type integer"},
		{"put name number", "PUT", `{"name":1,"sku":"B","price":{"amount":1,"currency":"EUR"},"version":1}`, edge.CodeInvalidType, "field name must be of type string"},
		{"post duplicate amount", "POST", `{"name":"A","sku":"B","price":{"amount":1999,"currency":"EUR","amount":0}}`, edge.CodeDuplicateField, "field price.amount appears more than once"},
		{"put duplicate version", "PUT", `{"name":"A","sku":"B","price":{"amount":1,"currency":"EUR"},"version":1,"version":2}`, edge.CodeDuplicateField, "field version appears more than once"},
	}
	before := s.items(t, id)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := request(t, id, "POST", "/v1/products", nil, tc.body)
			if tc.method == "PUT" {
				ev = request(t, id, "PUT", "/v1/products/{id}", byID, tc.body)
			}
			r := s.do(t, ev)
			if r.Status != http.StatusBadRequest || r.Code != tc.code || errorMessage(r) != tc.want {
				t.Fatalf("got %d %q %q, want 400 %s %q", r.Status, r.Code, errorMessage(r), tc.code, tc.want)
			}
			if after := s.items(t, id); after != before {
				t.Fatalf("refused request wrote: %d -> %d items", before, after)
			}
		})
	}
	for _, q := range []string{"limit", "cursor"} {
		r := s.do(t, withQuery(request(t, id, "GET", "/v1/products", nil, ""), q, ""))
		if r.Status != http.StatusBadRequest || r.Code != "invalid_"+q {
			t.Fatalf("empty %s= : %d %q, want 400 invalid_%s", q, r.Status, r.Code, q)
		}
	}
}

// DELETE takes no version: a product that is gone is 404, however the
// deletes interleave.
func TestDeletingAProductTwiceIs204Then404(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	id := acme.TenantID
	p := s.do(t, request(t, id, "POST", "/v1/products", nil, `{"name":"Anvil","sku":"ANV-1","price":{"amount":1,"currency":"EUR"}}`))
	byID := map[string]string{"id": p.Body["id"].(string)}
	if r := s.do(t, request(t, id, "DELETE", "/v1/products/{id}", byID, "")); r.Status != http.StatusNoContent {
		t.Fatalf("first delete: %+v", r)
	}
	if r := s.do(t, request(t, id, "DELETE", "/v1/products/{id}", byID, "")); r.Status != http.StatusNotFound || r.Code != edge.CodeNotFound {
		t.Fatalf("second delete: %+v, want 404 not_found", r)
	}
}

// Concurrent DELETEs of one product: exactly one answers 204, every other
// 404 (never a 409, which sent the client to re-read a product that is
// gone), and nothing is left. moto alone does not isolate concurrent writes
// (two conditional deletes of one item could both succeed); the local
// stack's server does (tools/moto/serve.py), as DynamoDB does. The mapping of
// each interleaving is also proven deterministically in internal/platform/store
// TestDeleteProductRaces.
func TestConcurrentDeletesOfOneProductAre204Or404(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	id := acme.TenantID
	const rounds, n = 5, 20
	for round := 0; round < rounds; round++ {
		p := s.do(t, request(t, id, "POST", "/v1/products", nil, `{"name":"Anvil","sku":"ANV-`+itoa(round)+`","price":{"amount":1,"currency":"EUR"}}`))
		if p.Status != http.StatusCreated {
			t.Fatalf("create: %+v", p)
		}
		byID := map[string]string{"id": p.Body["id"].(string)}
		var wg sync.WaitGroup
		results := make([]result, n)
		start := make(chan struct{})
		for i := range results {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				results[i] = s.do(t, request(t, id, "DELETE", "/v1/products/{id}", byID, ""))
			}(i)
		}
		close(start)
		wg.Wait()
		deleted := 0
		for _, r := range results {
			switch {
			case r.Status == http.StatusNoContent:
				deleted++
			case r.Status == http.StatusNotFound && r.Code == edge.CodeNotFound:
			default:
				t.Fatalf("round %d: a concurrent delete answered %d %q %q, want 204 or 404 not_found", round, r.Status, r.Code, errorMessage(r))
			}
		}
		if deleted != 1 {
			t.Fatalf("round %d: %d of %d concurrent deletes answered 204, want exactly 1", round, deleted, n)
		}
	}
	if n := s.items(t, id); n != 0 {
		t.Fatalf("%d items left after the deletes", n)
	}
}
