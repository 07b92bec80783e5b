package plan_test

import (
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/plan"
)

func TestEveryTierHasSaneLimits(t *testing.T) {
	if len(plan.Tiers) != 3 {
		t.Fatalf("Tiers = %v, want the three tiers", plan.Tiers)
	}
	prev := plan.Limits{}
	for _, tier := range plan.Tiers {
		if !tier.Valid() {
			t.Fatalf("tier %q is not a catalog tier", tier)
		}
		l, ok := plan.For(tier)
		if !ok {
			t.Fatalf("no limits for %q", tier)
		}
		if l.RateLimit <= 0 || float64(l.BurstLimit) < l.RateLimit || l.MonthlyQuota <= 0 || l.ExportConcurrency < 2 || l.InvitesPerDay <= 0 {
			t.Errorf("%s: limits %+v are not usable", tier, l)
		}
		// A higher tier never allows less than a lower one.
		if l.RateLimit < prev.RateLimit || l.BurstLimit < prev.BurstLimit || l.MonthlyQuota < prev.MonthlyQuota || l.ExportConcurrency < prev.ExportConcurrency || l.InvitesPerDay < prev.InvitesPerDay {
			t.Errorf("%s: limits %+v are below the tier before (%+v)", tier, l, prev)
		}
		prev = l
	}
	if _, ok := plan.For(catalog.Tier("gold")); ok {
		t.Error("For(gold) is ok, want not ok")
	}
}
