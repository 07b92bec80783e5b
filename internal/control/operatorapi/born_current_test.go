package operatorapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/tessera-saas/tessera/internal/control/fleet"
	"github.com/tessera-saas/tessera/internal/control/migrations"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// TestNewTenantsStartCurrent: onboarding records the latest data
// migration on the new tenant (its items are born in that format), so the
// fleet runner counts it current and never applies older migrations to it.
func TestNewTenantsStartCurrent(t *testing.T) {
	s := newSuite(t)
	h := s.tenants(t)
	cat := store.NewCatalog(store.NewClient(s.e.Config), s.e.Settings.CatalogTable)
	created := doTenants(t, h, operatorRequest(t, "POST", "/v1/tenants", nil, `{"name":"Pied Piper","tier":"basic","adminEmail":"richard@piper.test"}`, "operators"))
	if created.Status != http.StatusAccepted {
		t.Fatalf("create = %+v", created)
	}
	id := created.Body["tenantId"].(string)
	rec, err := cat.GetTenant(context.Background(), id)
	if err != nil || rec.Schema != migrations.Latest() {
		t.Fatalf("record = %+v, %v; want schema %d", rec, err, migrations.Latest())
	}
	r, err := fleet.New(fleet.Deps{Catalog: cat, Template: "2", Only: func(rec catalog.Record) bool { return rec.TenantID == id }})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations.All() {
		target, err := r.Target(m.Ref())
		if err != nil {
			t.Fatal(err)
		}
		plan, err := r.Plan(context.Background(), target)
		if err != nil || len(plan.Waves) != 1 || plan.Waves[0].Tenants[0].State != fleet.StateCurrent {
			t.Fatalf("plan of %s = %+v, %v; want the new tenant current", m.Ref(), plan, err)
		}
	}
}
