package provision_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/provision"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// TestOnboardingRecordsTheTenantsUsageKey (issue 11, item 1): the API-key
// step records the key's value in the tenant's catalog record, where the
// tenant authorizer reads it to return as the usageIdentifierKey; a tier
// change keeps it (the key moves between plans, its value stays); the
// record's JSON (the operator API's answer) never shows it.
func TestOnboardingRecordsTheTenantsUsageKey(t *testing.T) {
	h := newHarness(t)
	deps := h.deps()
	p := provision.New(deps)
	d := h.requested(t, catalog.TierBasic)
	if err := p.Process(h.ctx, bus.TenantOnboardingRequested, d); err != nil {
		t.Fatal(err)
	}
	rec := h.assertActive(t, d)
	k, found, err := deps.APIKeys.Reveal(h.ctx, d.TenantID)
	if err != nil || !found || k.Value == "" {
		t.Fatalf("Reveal: found %v, %v", found, err)
	}
	if rec.UsageKey != k.Value {
		t.Fatal("the catalog record does not hold the tenant's API key")
	}
	if b, _ := json.Marshal(rec); strings.Contains(string(b), k.Value) {
		t.Fatal("the record's JSON shows the API key")
	}

	if _, err := deps.Catalog.Apply(h.ctx, d.TenantID, store.Change{From: []catalog.Status{catalog.StatusActive}, Tier: catalog.TierStandard}, nil, nil); err != nil {
		t.Fatal(err)
	}
	ev := d
	ev.Tier = string(catalog.TierStandard)
	if err := p.Process(h.ctx, bus.TenantTierChanged, ev); err != nil {
		t.Fatal(err)
	}
	if got := h.record(t, d.TenantID); got.UsageKey != k.Value || got.Tier != catalog.TierStandard {
		t.Fatalf("after the tier change: tier %s, key kept %v", got.Tier, got.UsageKey == k.Value)
	}
}
