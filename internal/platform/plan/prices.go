package plan

import "github.com/tessera-saas/tessera/internal/platform/catalog"

// Price is what one tier's plan costs the tenant, in US cents: the prices an
// invoice applies (internal/platform/invoice). They are customer prices, not
// the AWS cost estimate of the finance report (internal/control/usage's
// Prices), which says what a tenant costs this deployment.
type Price struct {
	// MonthlyFeeCents is the subscription fee of a whole calendar month
	// (UTC); a month spent partly on the tier pays it by the day.
	MonthlyFeeCents int64 `json:"monthlyFeeCents"`
	// IncludedRequests are the requests of a whole month that the fee
	// covers (shared by the day like the fee). It stays below the tier's
	// MonthlyQuota, which API Gateway enforces: the requests between the
	// two are overage.
	IncludedRequests int64 `json:"includedRequests"`
	// OverageCentsPerMillion is the price of a million requests beyond the
	// included ones.
	OverageCentsPerMillion int64 `json:"overageCentsPerMillionRequests"`
	// StorageCentsPerMillionItemMonths is the price of storing a million
	// items for a month (average stored items over the month, from the
	// daily samples).
	StorageCentsPerMillionItemMonths int64 `json:"storageCentsPerMillionItemMonths"`
}

// Currency is the currency of every price (ISO 4217, lower case as Stripe
// writes it).
const Currency = "usd"

var prices = map[catalog.Tier]Price{
	catalog.TierBasic:    {MonthlyFeeCents: 29_00, IncludedRequests: 50_000, OverageCentsPerMillion: 5_00, StorageCentsPerMillionItemMonths: 25_00},
	catalog.TierStandard: {MonthlyFeeCents: 99_00, IncludedRequests: 500_000, OverageCentsPerMillion: 4_00, StorageCentsPerMillionItemMonths: 20_00},
	catalog.TierPremium:  {MonthlyFeeCents: 499_00, IncludedRequests: 5_000_000, OverageCentsPerMillion: 3_00, StorageCentsPerMillionItemMonths: 15_00},
}

// PriceOf returns the price of tier t; ok is false for an unknown tier.
func PriceOf(t catalog.Tier) (p Price, ok bool) {
	p, ok = prices[t]
	return p, ok
}

// Prices returns every tier's price (a copy).
func Prices() map[catalog.Tier]Price {
	out := make(map[catalog.Tier]Price, len(prices))
	for t, p := range prices {
		out[t] = p
	}
	return out
}
