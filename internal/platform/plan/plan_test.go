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

// Every tier has a price; a higher tier costs more, includes more, and
// never charges more per unit; the included requests stay below the quota
// API Gateway enforces (else no request could ever be overage).
func TestEveryTierHasAPrice(t *testing.T) {
	prev := plan.Price{OverageCentsPerMillion: 1 << 62, StorageCentsPerMillionItemMonths: 1 << 62}
	for _, tier := range plan.Tiers {
		p, ok := plan.PriceOf(tier)
		l, _ := plan.For(tier)
		if !ok || p.MonthlyFeeCents <= 0 || p.IncludedRequests <= 0 || p.OverageCentsPerMillion <= 0 || p.StorageCentsPerMillionItemMonths <= 0 {
			t.Fatalf("%s: price %+v (ok %v) is not usable", tier, p, ok)
		}
		if p.IncludedRequests >= l.MonthlyQuota {
			t.Errorf("%s: %d included requests, not below the monthly quota %d", tier, p.IncludedRequests, l.MonthlyQuota)
		}
		if p.MonthlyFeeCents <= prev.MonthlyFeeCents || p.IncludedRequests <= prev.IncludedRequests ||
			p.OverageCentsPerMillion > prev.OverageCentsPerMillion || p.StorageCentsPerMillionItemMonths > prev.StorageCentsPerMillionItemMonths {
			t.Errorf("%s: price %+v does not follow the tier before (%+v)", tier, p, prev)
		}
		prev = p
	}
	if _, ok := plan.PriceOf(catalog.Tier("gold")); ok {
		t.Error("PriceOf(gold) is ok, want not ok")
	}
}
