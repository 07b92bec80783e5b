package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/order"
	"github.com/tessera-saas/tessera/internal/platform/product"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type harness struct {
	e     *testenv.Env
	s     *store.Store
	ddb   *dynamodb.Client
	creds *access.Credentials
}

func newHarness(t *testing.T) harness {
	e := testenv.Setup(t)
	ddb := store.NewClient(e.Config)
	creds := access.NewCredentials(sts.NewFromConfig(e.Config), e.Settings.DataAccessRoleARN)
	return harness{e: e, ddb: ddb, creds: creds,
		s: store.New(ddb, crypto.NewEnvelope(kms.NewFromConfig(e.Config)), store.WithCredentials(creds))}
}

// bg is the context of the test's store calls.
var bg = context.Background()

// as returns rec's tenant's data, as the API edge builds it for a verified
// caller of that tenant.
func (h harness) as(rec catalog.Record) store.TenantData {
	sc, err := catalog.ScopeOf(tenant.Tenant{ID: rec.TenantID, UserID: "u", Role: tenant.RoleAdmin}, rec)
	if err != nil {
		panic(err) // fixture records always have a placement
	}
	return h.s.For(sc)
}

func anvil(sku string) product.Input {
	return product.Input{Name: "Anvil", SKU: sku, Price: &product.Price{Amount: 1999, Currency: "EUR"}}
}

// partition reads every item under pk directly, bypassing the store.
func (h harness) partition(t *testing.T, pk string) []map[string]types.AttributeValue {
	t.Helper()
	out, err := h.ddb.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 aws.String(h.e.Settings.PooledTable),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Items
}

func TestProductLifecycleAndKeys(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "acme").Record
	data := h.as(acme)

	p, err := data.CreateProduct(bg, anvil("ANV-1"))
	if err != nil {
		t.Fatal(err)
	}
	items := h.partition(t, acme.TenantID+"#PRODUCT")
	if len(items) != 1 || items[0]["sk"].(*types.AttributeValueMemberS).Value != p.ID {
		t.Fatalf("product not stored under %s#PRODUCT/%s: %v", acme.TenantID, p.ID, items)
	}
	// Format 2: the exact SKU and its case-insensitive key are reserved.
	if skus := skuKeys(h.partition(t, acme.TenantID+"#SKU")); !slices.Equal(skus, []string{"ANV-1", "anv-1"}) {
		t.Fatalf("sku reservations = %v, want ANV-1 and anv-1", skus)
	}
	if _, err := data.CreateProduct(bg, anvil("Anv-1")); !errors.Is(err, store.ErrSKUTaken) {
		t.Fatalf("sku differing only in case: err = %v, want ErrSKUTaken", err)
	}

	got, err := data.GetProduct(bg, p.ID)
	if err != nil || got.SKU != "ANV-1" || got.Version != 1 {
		t.Fatalf("get = %+v, %v", got, err)
	}
	upd := anvil("ANV-2")
	upd.Name = "Anvil II"
	p2, err := data.UpdateProduct(bg, p.ID, 1, upd)
	if err != nil || p2.Version != 2 || p2.SKU != "ANV-2" {
		t.Fatalf("update = %+v, %v", p2, err)
	}
	if _, err := data.UpdateProduct(bg, p.ID, 1, upd); !errors.Is(err, store.ErrVersionConflict) {
		t.Fatalf("stale update: err = %v, want ErrVersionConflict", err)
	}
	// The old SKU was released, the new one is reserved.
	if _, err := data.CreateProduct(bg, anvil("ANV-1")); err != nil {
		t.Fatalf("old sku not released: %v", err)
	}
	if _, err := data.CreateProduct(bg, anvil("ANV-2")); !errors.Is(err, store.ErrSKUTaken) {
		t.Fatalf("duplicate sku: err = %v, want ErrSKUTaken", err)
	}
	if err := data.DeleteProduct(bg, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := data.GetProduct(bg, p.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: err = %v", err)
	}
	if err := data.DeleteProduct(bg, p.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: err = %v", err)
	}
	if len(h.partition(t, acme.TenantID+"#PRODUCT")) != 1 || len(h.partition(t, acme.TenantID+"#SKU")) != 2 {
		t.Fatal("delete left the product or its sku behind")
	}
}

// skuKeys are the sort keys of raw SKU reservations, sorted.
func skuKeys(items []map[string]types.AttributeValue) []string {
	var out []string
	for _, it := range items {
		out = append(out, it["sk"].(*types.AttributeValueMemberS).Value)
	}
	slices.Sort(out)
	return out
}

func TestFailedTransactionsWriteNothing(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "acme").Record
	data := h.as(acme)
	if _, err := data.CreateProduct(bg, anvil("DUP")); err != nil {
		t.Fatal(err)
	}
	if _, err := data.CreateProduct(bg, anvil("DUP")); !errors.Is(err, store.ErrSKUTaken) {
		t.Fatalf("err = %v", err)
	}
	if n := len(h.partition(t, acme.TenantID+"#PRODUCT")); n != 1 {
		t.Fatalf("rejected duplicate left %d products, want 1", n)
	}
	_, err := data.CreateOrder(bg, order.Input{ProductID: "01JCZ8W3T1K5Q7R9S2V4X6Y8Z0", Quantity: 1,
		Customer: &order.Customer{Name: "Ann", Email: "ann@example.com"}, Status: order.StatusPending})
	if !errors.Is(err, store.ErrUnknownProduct) {
		t.Fatalf("order of missing product: err = %v", err)
	}
	if n := len(h.partition(t, acme.TenantID+"#ORDER")); n != 0 {
		t.Fatalf("rejected order wrote %d items", n)
	}
}

func TestTenantsCannotSeeEachOther(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "acme").Record
	globex := fixture.NewTenant(t, h.e, "globex").Record
	a, g := h.as(acme), h.as(globex)

	p, err := a.CreateProduct(bg, anvil("SHARED-SKU"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := a.CreateOrder(bg, order.Input{ProductID: p.ID, Quantity: 2,
		Customer: &order.Customer{Name: "Ann", Email: "ann@acme.test"}, Status: order.StatusPending})
	if err != nil {
		t.Fatal(err)
	}
	// Same SKU is free in another tenant.
	if _, err := g.CreateProduct(bg, anvil("SHARED-SKU")); err != nil {
		t.Fatalf("sku should be per tenant: %v", err)
	}
	if _, err := g.GetProduct(bg, p.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("globex read acme's product: %v", err)
	}
	if _, err := g.GetOrder(bg, o.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("globex read acme's order: %v", err)
	}
	if _, err := g.UpdateProduct(bg, p.ID, 1, anvil("X")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("globex updated acme's product: %v", err)
	}
	if err := g.DeleteOrder(bg, o.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("globex deleted acme's order: %v", err)
	}
	if _, err := g.CreateOrder(bg, order.Input{ProductID: p.ID, Quantity: 1,
		Customer: &order.Customer{Name: "Eve", Email: "eve@globex.test"}, Status: order.StatusPending}); !errors.Is(err, store.ErrUnknownProduct) {
		t.Fatalf("globex ordered acme's product: %v", err)
	}
	page, err := g.ListOrders(bg, store.PageRequest{Limit: 100})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("globex lists %d orders, %v", len(page.Items), err)
	}
	if got, err := a.GetOrder(bg, o.ID); err != nil || got.Customer.Email != "ann@acme.test" {
		t.Fatalf("acme's own order = %+v, %v", got, err)
	}
}

func TestPaginationAndCursorBinding(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "acme").Record
	globex := fixture.NewTenant(t, h.e, "globex").Record
	a, g := h.as(acme), h.as(globex)
	for i := 0; i < 5; i++ {
		if _, err := a.CreateProduct(bg, anvil(fmt.Sprintf("P-%d", i))); err != nil {
			t.Fatal(err)
		}
		if _, err := g.CreateProduct(bg, anvil(fmt.Sprintf("G-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	req := store.PageRequest{Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		page, err := a.ListProducts(bg, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Items {
			seen = append(seen, p.SKU)
		}
		if page.Next == "" {
			break
		}
		// Replayed by another tenant, or used on another list: rejected.
		if _, err := g.ListProducts(bg, store.PageRequest{Limit: 2, Cursor: page.Next}); !errors.Is(err, store.ErrInvalidCursor) {
			t.Fatalf("cursor replayed by globex: err = %v", err)
		}
		if _, err := a.ListOrders(bg, store.PageRequest{Limit: 2, Cursor: page.Next}); !errors.Is(err, store.ErrInvalidCursor) {
			t.Fatalf("product cursor on orders: err = %v", err)
		}
		edited := []byte(page.Next)
		edited[len(edited)/2] ^= 1
		if _, err := a.ListProducts(bg, store.PageRequest{Limit: 2, Cursor: string(edited)}); !errors.Is(err, store.ErrInvalidCursor) {
			t.Fatalf("edited cursor: err = %v", err)
		}
		req.Cursor = page.Next
	}
	if len(seen) != 5 {
		t.Fatalf("saw %v, want acme's 5 products exactly once", seen)
	}
	for i, sku := range seen {
		if sku != fmt.Sprintf("P-%d", i) {
			t.Fatalf("order %v, want oldest first and only acme's", seen)
		}
	}
}

func TestNoScopeNoAccess(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "acme").Record
	// Without a scope there is no tenant data to call: the zero scope, and
	// the zero TenantData, reach nothing.
	if _, err := h.s.For(catalog.Scope{}).ListProducts(bg, store.PageRequest{Limit: 1}); err == nil {
		t.Error("the zero scope listed products")
	}
	if _, err := (store.TenantData{}).ListProducts(bg, store.PageRequest{Limit: 1}); err == nil {
		t.Error("the zero TenantData listed products")
	}
	// A scope is only built for a caller whose record it is, with a placement.
	tests := map[string]struct {
		t   tenant.Tenant
		rec catalog.Record
	}{
		"mismatched record": {tenant.Tenant{ID: "t-other"}, acme},
		"no placement":      {tenant.Tenant{ID: acme.TenantID}, func() catalog.Record { r := acme; r.Placement = catalog.Placement{}; return r }()},
		"invalid tenant id": {tenant.Tenant{ID: "T#1"}, func() catalog.Record { r := acme; r.TenantID = "T#1"; return r }()},
	}
	for name, tc := range tests {
		if _, err := catalog.ScopeOf(tc.t, tc.rec); err == nil {
			t.Errorf("%s: ScopeOf built a scope", name)
		}
	}
}
