package operatorapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// TestTierChangeOnlyOnceOnboarded: a tier change while the tenant is
// PROVISIONING (its placement is being built for the tier it asked for; a
// change could leave a premium stack behind) or on its way out is 409
// invalid_state and writes nothing; ACTIVE and SUSPENDED tenants may change.
func TestTierChangeOnlyOnceOnboarded(t *testing.T) {
	s := newSuite(t)
	h := s.tenants(t)
	cat := store.NewCatalog(store.NewClient(s.e.Config), s.e.Settings.CatalogTable)
	ctx := context.Background()
	tier := func(id, to string) result {
		return doTenants(t, h, operatorRequest(t, "PUT", "/v1/tenants/{id}/tier", map[string]string{"id": id}, `{"tier":"`+to+`"}`, "operators"))
	}

	created := doTenants(t, h, operatorRequest(t, "POST", "/v1/tenants", nil, `{"name":"Hooli","tier":"premium","adminEmail":"gavin@hooli.test"}`, "operators"))
	if created.Status != http.StatusAccepted {
		t.Fatalf("create = %+v", created)
	}
	id := created.Body["tenantId"].(string)
	before, err := cat.GetTenant(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r := tier(id, "basic"); r.Status != http.StatusConflict || r.Code != edge.CodeInvalidState {
		t.Fatalf("tier change while PROVISIONING = %+v, want 409 %s", r, edge.CodeInvalidState)
	}
	after, err := cat.GetTenant(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if after.Tier != catalog.TierPremium || after.Version != before.Version {
		t.Fatalf("refused tier change wrote: tier %s version %d (was %d)", after.Tier, after.Version, before.Version)
	}
	audit, err := cat.AuditTrail(ctx, id)
	if err != nil || len(audit) != 1 || audit[0].Action != "CreateTenant" {
		t.Fatalf("audit = %+v, %v; want only the create", audit, err)
	}

	// Onboarded tenants change, suspended ones too (only their plan moves).
	acme := fixture.NewTenant(t, s.e, "acme")
	if r := tier(acme.Record.TenantID, "standard"); r.Status != http.StatusOK || r.Body["tier"] != "standard" {
		t.Fatalf("tier change of an ACTIVE tenant = %+v", r)
	}
	if _, err := cat.Apply(ctx, acme.Record.TenantID, store.Change{From: []catalog.Status{catalog.StatusActive}, To: catalog.StatusSuspended, Reason: "test"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if r := tier(acme.Record.TenantID, "premium"); r.Status != http.StatusOK || r.Body["tier"] != "premium" {
		t.Fatalf("tier change of a SUSPENDED tenant = %+v", r)
	}
	for _, st := range []catalog.Status{catalog.StatusOffboarding, catalog.StatusFailed} {
		other := fixture.NewTenant(t, s.e, "gone")
		if _, err := cat.Apply(ctx, other.Record.TenantID, store.Change{To: st}, nil, nil); err != nil {
			t.Fatal(err)
		}
		if r := tier(other.Record.TenantID, "premium"); r.Status != http.StatusConflict || r.Code != edge.CodeInvalidState {
			t.Fatalf("tier change while %s = %+v", st, r)
		}
	}
}

// TestOffboardingCanBeRetriedAfterItFailed: a tenant whose offboarding
// failed (OFFBOARD_FAILED) is offboarded again by POST offboard: 202,
// OFFBOARDING, an audit entry, and the request goes to the provisioner.
func TestOffboardingCanBeRetriedAfterItFailed(t *testing.T) {
	s := newSuite(t)
	h := s.tenants(t)
	cat := store.NewCatalog(store.NewClient(s.e.Config), s.e.Settings.CatalogTable)
	ctx := context.Background()
	acme := fixture.NewTenant(t, s.e, "acme")
	id := acme.Record.TenantID
	if _, err := cat.Apply(ctx, id, store.Change{To: catalog.Status("OFFBOARD_FAILED"), Reason: "retries_exhausted: gave up"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	r := doTenants(t, h, operatorRequest(t, "POST", "/v1/tenants/{id}/offboard", map[string]string{"id": id}, `{"reason":"try again"}`, "operators"))
	if r.Status != http.StatusAccepted || r.Body["status"] != "OFFBOARDING" || r.Body["reason"] != "try again" {
		t.Fatalf("offboard after a failed offboarding = %+v", r)
	}
	audit, err := cat.AuditTrail(ctx, id)
	if err != nil || len(audit) == 0 || audit[len(audit)-1].Action != "OffboardTenant" {
		t.Fatalf("audit = %+v, %v", audit, err)
	}
	// Suspend and tier changes stay refused in that state.
	if _, err := cat.Apply(ctx, id, store.Change{To: catalog.Status("OFFBOARD_FAILED")}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if r := doTenants(t, h, operatorRequest(t, "POST", "/v1/tenants/{id}/suspend", map[string]string{"id": id}, "", "operators")); r.Status != http.StatusConflict {
		t.Fatalf("suspend of an OFFBOARD_FAILED tenant = %+v", r)
	}
}
