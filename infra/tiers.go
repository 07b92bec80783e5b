package main

import "github.com/tessera-saas/tessera/internal/catalog"

// tierLimits are the API limits of one tier, enforced by its API Gateway
// usage plan (and, later, by the local gateway).
type tierLimits struct {
	// RateLimit is the steady-state requests per second, BurstLimit the
	// bucket size.
	RateLimit  float64
	BurstLimit float64
	// MonthlyQuota is the number of requests per calendar month.
	MonthlyQuota float64
}

// tiers is the one place the tier limits are written down.
var tiers = map[catalog.Tier]tierLimits{
	catalog.TierBasic:    {RateLimit: 10, BurstLimit: 20, MonthlyQuota: 100_000},
	catalog.TierStandard: {RateLimit: 50, BurstLimit: 100, MonthlyQuota: 1_000_000},
	catalog.TierPremium:  {RateLimit: 200, BurstLimit: 400, MonthlyQuota: 10_000_000},
}

// tierOrder lists the tiers in a stable order (construct ids, outputs).
var tierOrder = []catalog.Tier{catalog.TierBasic, catalog.TierStandard, catalog.TierPremium}

// Stage-wide throttling, applied to every method before any usage plan. The
// account default is 10,000 requests/s with a burst of 5,000, shared by all
// APIs of the account and Region.
const (
	stageRateLimit  = 1000
	stageBurstLimit = 2000
)
