package plan

import (
	"time"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
)

// Limits are the limits of one tier.
type Limits struct {
	// RateLimit is the steady-state requests per second of one tenant;
	// BurstLimit is its token bucket's size.
	RateLimit  float64
	BurstLimit int
	// MonthlyQuota is the number of requests one tenant may make per
	// calendar month (UTC), as API Gateway counts them.
	MonthlyQuota int64
	// ExportConcurrency bounds how many exports of the tier's tenants run at
	// once (all tenants of the tier share it). It is the MaximumConcurrency
	// of the tier queue's Lambda event source, which must be at least 2.
	ExportConcurrency int
	// InvitesPerDay is how many users one tenant may invite per UTC day
	// (POST /v1/users; 429 invite_limit beyond it). Each invitation is an
	// email from the user pool, whose sending quota the whole deployment
	// shares: Cognito's built-in email allows about 50 a day per account,
	// SES (configured for deployed pools) its account's quota. The caps keep
	// one tenant from spending that quota for everyone.
	InvitesPerDay int
	// BackupInterval is how often the schedule takes a snapshot of each of
	// the tier's tenants (internal/control/backup).
	BackupInterval time.Duration
	// BackupRetentionDays is how long the tier's snapshots and change logs
	// are kept: the backup bucket's lifecycle rules expire them, per tier
	// (the objects' tier tag). A tenant can be restored to any time from
	// its oldest kept snapshot on.
	BackupRetentionDays int
	// AuditRetentionDays is how long the audit entries of the tier's
	// tenants are kept (internal/platform/audit): each entry's TTL is set
	// when it is written, from the tier the tenant had then, so a tier
	// change applies to the entries written after it.
	AuditRetentionDays int
}

var limits = map[catalog.Tier]Limits{
	catalog.TierBasic: {RateLimit: 10, BurstLimit: 20, MonthlyQuota: 100_000, ExportConcurrency: 2, InvitesPerDay: 20,
		BackupInterval: 24 * time.Hour, BackupRetentionDays: 7, AuditRetentionDays: 90},
	catalog.TierStandard: {RateLimit: 50, BurstLimit: 100, MonthlyQuota: 1_000_000, ExportConcurrency: 4, InvitesPerDay: 100,
		BackupInterval: 6 * time.Hour, BackupRetentionDays: 14, AuditRetentionDays: 365},
	catalog.TierPremium: {RateLimit: 200, BurstLimit: 400, MonthlyQuota: 10_000_000, ExportConcurrency: 8, InvitesPerDay: 500,
		BackupInterval: time.Hour, BackupRetentionDays: 35, AuditRetentionDays: 730},
}

// Tiers lists the tiers in a stable order (construct ids, outputs, tests).
var Tiers = []catalog.Tier{catalog.TierBasic, catalog.TierStandard, catalog.TierPremium}

// For returns the limits of tier t; ok is false for an unknown tier.
func For(t catalog.Tier) (l Limits, ok bool) {
	l, ok = limits[t]
	return l, ok
}
