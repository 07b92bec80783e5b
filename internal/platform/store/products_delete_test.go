package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/order"
	"github.com/tessera-saas/tessera/internal/platform/product"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// racer is the real emulator's client with a hook that runs once, just
// before the store's first transaction: it plays another request that wins
// the race between the store's read and its write, deterministically (moto
// would not give a reliable interleaving under real concurrency).
type racer struct {
	*dynamodb.Client
	once sync.Once
	race func()
}

func (r *racer) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	r.once.Do(func() {
		if r.race != nil {
			r.race()
		}
	})
	return r.Client.TransactWriteItems(ctx, in, opts...)
}

// racing returns rec's data through a store whose first transaction is
// preceded by race.
func (h harness) racing(rec catalog.Record, race func()) store.TenantData {
	r := &racer{Client: h.ddb, race: race}
	s := store.New(r, crypto.NewEnvelope(kms.NewFromConfig(h.e.Config)), store.WithCredentials(h.creds))
	sc, err := catalog.ScopeOf(tenant.Tenant{ID: rec.TenantID, UserID: "u", Role: tenant.RoleAdmin}, rec)
	if err != nil {
		panic(err)
	}
	return s.For(sc)
}

func (h harness) deleteRaw(t *testing.T, pk, sk string) {
	t.Helper()
	if _, err := h.ddb.DeleteItem(bg, &dynamodb.DeleteItemInput{TableName: aws.String(h.e.Settings.PooledTable),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}}); err != nil {
		t.Fatal(err)
	}
}

// TestDeleteProductRaces proves the mapping of DeleteProduct's cancelled
// transaction, one interleaving at a time: DELETE takes no version, so a
// product that is gone is ErrNotFound, never ErrVersionConflict, and a
// concurrent update does not stop the delete.
func TestDeleteProductRaces(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "acme").Record
	plain := h.as(acme)
	mk := func(sku string) product.Product {
		p, err := plain.CreateProduct(bg, anvil(sku))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	left := func(t *testing.T) (products, skus int) {
		return len(h.partition(t, acme.TenantID+"#PRODUCT")), len(h.partition(t, acme.TenantID+"#SKU"))
	}

	t.Run("deleted by another request after the read", func(t *testing.T) {
		p := mk("RACE-1")
		data := h.racing(acme, func() {
			if err := plain.DeleteProduct(bg, p.ID); err != nil {
				t.Errorf("winning delete: %v", err)
			}
		})
		if err := data.DeleteProduct(bg, p.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("losing delete: err = %v, want ErrNotFound", err)
		}
		if np, ns := left(t); np != 0 || ns != 0 {
			t.Fatalf("left %d products, %d skus", np, ns)
		}
	})

	t.Run("updated by another request after the read", func(t *testing.T) {
		p := mk("RACE-2")
		data := h.racing(acme, func() {
			in := anvil("RACE-2")
			in.Name = "Anvil II"
			if _, err := plain.UpdateProduct(bg, p.ID, p.Version, in); err != nil {
				t.Errorf("winning update: %v", err)
			}
		})
		if err := data.DeleteProduct(bg, p.ID); err != nil {
			t.Fatalf("delete after a concurrent update: err = %v, want nil", err)
		}
		if np, ns := left(t); np != 0 || ns != 0 {
			t.Fatalf("left %d products, %d skus", np, ns)
		}
	})

	t.Run("sku moved by another request after the read", func(t *testing.T) {
		p := mk("RACE-3")
		data := h.racing(acme, func() {
			if _, err := plain.UpdateProduct(bg, p.ID, p.Version, anvil("RACE-3B")); err != nil {
				t.Errorf("winning update: %v", err)
			}
		})
		if err := data.DeleteProduct(bg, p.ID); err != nil {
			t.Fatalf("delete after a concurrent sku change: err = %v, want nil", err)
		}
		if np, ns := left(t); np != 0 || ns != 0 {
			t.Fatalf("left %d products, %d skus (the new sku must be released too)", np, ns)
		}
	})

	t.Run("sku reservation already gone", func(t *testing.T) {
		p := mk("RACE-4")
		h.deleteRaw(t, acme.TenantID+"#SKU", "RACE-4")
		if err := plain.DeleteProduct(bg, p.ID); err != nil {
			t.Fatalf("delete of a product without its sku item: err = %v, want nil", err)
		}
		if np, ns := left(t); np != 0 || ns != 0 {
			t.Fatalf("left %d products, %d skus", np, ns)
		}
	})

	t.Run("sku reserved by another product", func(t *testing.T) {
		p := mk("RACE-5")
		other := mk("RACE-5-OTHER")
		// An inconsistent state (only a crash or a non-isolating engine
		// makes one): RACE-5's reservation names another product.
		if _, err := h.ddb.PutItem(bg, &dynamodb.PutItemInput{TableName: aws.String(h.e.Settings.PooledTable), Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: acme.TenantID + "#SKU"}, "sk": &types.AttributeValueMemberS{Value: "RACE-5"},
			"productId": &types.AttributeValueMemberS{Value: other.ID}}}); err != nil {
			t.Fatal(err)
		}
		if err := plain.DeleteProduct(bg, p.ID); err != nil {
			t.Fatalf("delete: err = %v, want nil", err)
		}
		// The other product's reservations are untouched (RACE-5, and its
		// own RACE-5-OTHER and race-5-other); RACE-5's race-5 was its own
		// and is released.
		if np, ns := left(t); np != 1 || ns != 3 {
			t.Fatalf("left %d products, %d skus; want 1 and 3", np, ns)
		}
		if err := plain.DeleteProduct(bg, other.ID); err != nil {
			t.Fatal(err)
		}
		h.deleteRaw(t, acme.TenantID+"#SKU", "RACE-5")
	})

	t.Run("sequential", func(t *testing.T) {
		p := mk("SEQ-1")
		if err := plain.DeleteProduct(bg, p.ID); err != nil {
			t.Fatal(err)
		}
		if err := plain.DeleteProduct(bg, p.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: err = %v, want ErrNotFound", err)
		}
	})
}

// TestUpdateOfAProductDeletedAfterTheReadIsNotFound: PUT of a product that
// another request deleted between the store's read and its write is 404,
// not a version conflict that sends the client to re-read what is gone.
// The same holds for orders.
func TestUpdateOfAnEntityDeletedAfterTheReadIsNotFound(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "acme").Record
	plain := h.as(acme)
	p, err := plain.CreateProduct(bg, anvil("UPD-1"))
	if err != nil {
		t.Fatal(err)
	}
	data := h.racing(acme, func() {
		if err := plain.DeleteProduct(bg, p.ID); err != nil {
			t.Errorf("winning delete: %v", err)
		}
	})
	if _, err := data.UpdateProduct(bg, p.ID, p.Version, anvil("UPD-1")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update product: err = %v, want ErrNotFound", err)
	}

	keep, err := plain.CreateProduct(bg, anvil("UPD-2"))
	if err != nil {
		t.Fatal(err)
	}
	in := order.Input{ProductID: keep.ID, Quantity: 1, Customer: &order.Customer{Name: "Ann", Email: "ann@example.com"}, Status: order.StatusPending}
	o, err := plain.CreateOrder(bg, in)
	if err != nil {
		t.Fatal(err)
	}
	data = h.racing(acme, func() {
		if err := plain.DeleteOrder(bg, o.ID); err != nil {
			t.Errorf("winning delete: %v", err)
		}
	})
	if _, err := data.UpdateOrder(bg, o.ID, o.Version, in); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update order: err = %v, want ErrNotFound", err)
	}
	if n := len(h.partition(t, acme.TenantID+"#ORDER")); n != 0 {
		t.Fatalf("the losing update wrote %d orders", n)
	}
}
