package billing_test

import (
	"context"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/control/billing"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/product"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
	"github.com/tessera-saas/tessera/internal/wire"
)

// TestSampleStorageOncePerDay: a tenant's stored items are counted with its
// own credentials and sampled once per UTC day; a second run the same day
// writes nothing, the next day's run samples again.
func TestSampleStorageOncePerDay(t *testing.T) {
	e := testenv.Setup(t)
	ctx := context.Background()
	src := wire.NewUsageSource(e.Config, e.Settings)
	rec := fixture.NewTenant(t, e, "sampled").Record
	before, err := src.StoredItems(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := catalog.ScopeOf(tenant.Tenant{ID: rec.TenantID, UserID: "u", Role: tenant.RoleAdmin}, rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, sku := range []string{"S-1", "S-2"} {
		if _, err := src.Data.For(sc).CreateProduct(ctx, product.Input{Name: "P", SKU: sku, Price: &product.Price{Amount: 1, Currency: "EUR"}}); err != nil {
			t.Fatal(err)
		}
	}
	after, err := src.StoredItems(ctx, rec)
	if err != nil || after <= before {
		t.Fatalf("items %d after two products, %d before: %v", after, before, err)
	}
	ledger := store.NewLedger(store.NewClient(e.Config), e.Settings.CatalogTable)
	job := &billing.Job{Source: src, Ledger: ledger}
	day := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	for i, want := range []int{1, 0} {
		n, err := job.SampleStorage(ctx, day.Add(time.Duration(i)*5*time.Hour), rec.TenantID)
		if err != nil || n != want {
			t.Fatalf("run %d: %d samples, %v; want %d", i, n, err, want)
		}
	}
	if n, err := job.SampleStorage(ctx, day.AddDate(0, 0, 1), rec.TenantID); err != nil || n != 1 {
		t.Fatalf("next day: %d samples, %v; want 1", n, err)
	}
	got, err := ledger.StorageSamples(ctx, rec.TenantID, day, day.AddDate(0, 0, 2))
	if err != nil || len(got) != 2 || got[0].Day != "2026-11-03" || got[0].Items != after || got[1].Day != "2026-11-04" {
		t.Fatalf("samples = %+v, %v; want Nov 3 and 4 with the %d items the tenant's session counts", got, err, after)
	}
}
