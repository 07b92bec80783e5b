package migrations_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tessera-saas/tessera/internal/control/migrations"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/product"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestTheSetIsNumberedAndFindable(t *testing.T) {
	if err := migrations.Validate(migrations.All()); err != nil {
		t.Fatal(err)
	}
	if migrations.Latest() != len(migrations.All()) {
		t.Fatalf("Latest = %d, want %d", migrations.Latest(), len(migrations.All()))
	}
	for _, ref := range []string{"1", "0001", "product-sku-key", "0001-product-sku-key"} {
		if m, err := migrations.Find(migrations.All(), ref); err != nil || m.ID != 1 {
			t.Errorf("Find(%q) = %+v, %v", ref, m, err)
		}
	}
	if _, err := migrations.Find(migrations.All(), "0099"); !errors.Is(err, migrations.ErrUnknown) {
		t.Errorf("Find(0099): %v, want ErrUnknown", err)
	}
	bad := []struct {
		name string
		set  []migrations.Migration
	}{
		{"gap", []migrations.Migration{{ID: 2, Name: "a", Partition: "P", Up: migrations.All()[0].Up}}},
		{"reused name", append(migrations.All(), migrations.Migration{ID: 2, Name: "product-sku-key", Partition: "P", Up: migrations.All()[0].Up})},
		{"no up", []migrations.Migration{{ID: 1, Name: "a", Partition: "P"}}},
	}
	for _, c := range bad {
		if err := migrations.Validate(c.set); err == nil {
			t.Errorf("%s: Validate passed", c.name)
		}
	}
}

// TestTheStoreWritesFormatTwoAndDownRestoresFormatOne ties the store's
// product format to the migration: a product the store creates is what Up
// produces (Up writes nothing), Down brings it to format 1 (no skuKey,
// only the exact SKU reserved) and Up back to format 2.
func TestTheStoreWritesFormatTwoAndDownRestoresFormatOne(t *testing.T) {
	e := testenv.Setup(t)
	ctx := context.Background()
	creds := access.NewCredentials(sts.NewFromConfig(e.Config), e.Settings.DataAccessRoleARN)
	st := store.New(store.NewClient(e.Config), crypto.NewEnvelope(kms.NewFromConfig(e.Config)), store.WithCredentials(creds))
	rec := fixture.NewTenant(t, e, "formats").Record
	sc, err := catalog.ScopeOf(tenant.Tenant{ID: rec.TenantID, UserID: "u", Role: tenant.RoleAdmin}, rec)
	if err != nil {
		t.Fatal(err)
	}
	d := st.For(sc)
	p, err := d.CreateProduct(ctx, product.Input{Name: "Anvil", SKU: "ANV-9", Price: &product.Price{Amount: 1, Currency: "EUR"}})
	if err != nil {
		t.Fatal(err)
	}
	m := migrations.All()[0]
	// read returns the product (nil once deleted) and the tenant's SKU
	// reservations.
	read := func() (store.Item, []string) {
		items, err := d.GetItems(ctx, []store.Item{store.KeyIn(rec.TenantID, store.PartitionProducts, p.ID)})
		if err != nil || len(items) > 1 {
			t.Fatalf("read product: %v, %v", items, err)
		}
		var it store.Item
		if len(items) == 1 {
			it = items[0]
		}
		var skus []string
		err = d.ScanFrom(ctx, store.PartitionSKUs, "", 0, func(its []store.Item) error {
			for _, it := range its {
				skus = append(skus, store.SortKeyOf(it))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return it, skus
	}
	it, skus := read()
	if k, _ := it["skuKey"].(*types.AttributeValueMemberS); k == nil || k.Value != "anv-9" || !slices.Equal(skus, []string{"ANV-9", "anv-9"}) {
		t.Fatalf("store wrote %v with reservations %v; want format 2", it, skus)
	}
	if wrote, err := m.Up(ctx, d, rec.TenantID, it); wrote || err != nil {
		t.Fatalf("Up on the store's own product: %v, %v", wrote, err)
	}
	if wrote, err := m.Down(ctx, d, rec.TenantID, it); !wrote || err != nil {
		t.Fatalf("Down: %v, %v", wrote, err)
	}
	it, skus = read()
	if _, has := it["skuKey"]; has || !slices.Equal(skus, []string{"ANV-9"}) {
		t.Fatalf("after Down: %v with reservations %v; want format 1", it, skus)
	}
	if wrote, err := m.Down(ctx, d, rec.TenantID, it); wrote || err != nil {
		t.Fatalf("Down twice: %v, %v", wrote, err)
	}
	// A format-1 product reads, updates and deletes through the store.
	if got, err := d.GetProduct(ctx, p.ID); err != nil || got.SKU != "ANV-9" {
		t.Fatalf("read format 1: %+v, %v", got, err)
	}
	if wrote, err := m.Up(ctx, d, rec.TenantID, it); !wrote || err != nil {
		t.Fatalf("Up: %v, %v", wrote, err)
	}
	if _, skus = read(); !slices.Equal(skus, []string{"ANV-9", "anv-9"}) {
		t.Fatalf("after Up: reservations %v", skus)
	}
	if err := d.DeleteProduct(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if it, skus = read(); it != nil || len(skus) != 0 {
		t.Fatalf("delete left reservations %v", skus)
	}
}
