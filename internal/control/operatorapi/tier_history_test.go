package operatorapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// TestTierChangeIsRecordedInTheTierHistory: PUT /v1/tenants/{id}/tier
// appends from/to/at to the tenant's tier history (which invoices prorate
// by), after the entry of its creation; the no-op change to the same tier
// appends nothing.
func TestTierChangeIsRecordedInTheTierHistory(t *testing.T) {
	s := newSuite(t)
	h := s.tenants(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	byID := map[string]string{"id": acme.TenantID}
	for _, body := range []string{`{"tier":"standard"}`, `{"tier":"standard"}`} {
		if r := doTenants(t, h, operatorRequest(t, "PUT", "/v1/tenants/{id}/tier", byID, body, "operators")); r.Status != http.StatusOK {
			t.Fatalf("tier change = %+v", r)
		}
	}
	hist, err := store.NewCatalog(store.NewClient(s.e.Config), s.e.Settings.CatalogTable).TierHistory(context.Background(), acme.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].From != "" || hist[0].To != catalog.TierBasic ||
		hist[1].From != catalog.TierBasic || hist[1].To != catalog.TierStandard || !hist[1].At.After(hist[0].At) {
		t.Fatalf("tier history = %+v, want basic at creation, then basic -> standard", hist)
	}
}
