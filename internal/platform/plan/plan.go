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
	// Exports says whether the tier's tenants may export their data
	// (POST /v1/exports; 403 not_entitled otherwise). With MaxUsers and
	// MaxProducts it is the built-in value of a feature flag
	// (internal/platform/features): an operator can change it per tier
	// or per tenant without a release.
	Exports bool
	// MaxUsers caps the users one tenant records (POST /v1/users; 409
	// limit_reached at the cap). It is above InvitesPerDay: a day's
	// invitations fit.
	MaxUsers int
	// MaxProducts caps one tenant's products (POST /v1/products; 409
	// limit_reached at the cap).
	MaxProducts int
	// AuditRetentionDays is how long the audit entries of the tier's
	// tenants are kept (internal/platform/audit): each entry's TTL is set
	// when it is written, from the tier the tenant had then, so a tier
	// change applies to the entries written after it.
	AuditRetentionDays int
}

var limits = map[catalog.Tier]Limits{
	catalog.TierBasic: {RateLimit: 10, BurstLimit: 20, MonthlyQuota: 100_000, ExportConcurrency: 2, InvitesPerDay: 20,
		BackupInterval: 24 * time.Hour, BackupRetentionDays: 7, Exports: false, MaxUsers: 25, MaxProducts: 1_000, AuditRetentionDays: 90},
	catalog.TierStandard: {RateLimit: 50, BurstLimit: 100, MonthlyQuota: 1_000_000, ExportConcurrency: 4, InvitesPerDay: 100,
		BackupInterval: 6 * time.Hour, BackupRetentionDays: 14, Exports: true, MaxUsers: 200, MaxProducts: 100_000, AuditRetentionDays: 365},
	catalog.TierPremium: {RateLimit: 200, BurstLimit: 400, MonthlyQuota: 10_000_000, ExportConcurrency: 8, InvitesPerDay: 500,
		BackupInterval: time.Hour, BackupRetentionDays: 35, Exports: true, MaxUsers: 5_000, MaxProducts: 10_000_000, AuditRetentionDays: 730},
}

// Tiers lists the tiers in a stable order (construct ids, outputs, tests).
var Tiers = []catalog.Tier{catalog.TierBasic, catalog.TierStandard, catalog.TierPremium}

// For returns the limits of tier t; ok is false for an unknown tier.
func For(t catalog.Tier) (l Limits, ok bool) {
	l, ok = limits[t]
	return l, ok
}
