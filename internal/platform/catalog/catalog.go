package catalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/branding"
)

// Tier is a tenant's plan.
type Tier string

// The tiers. Basic and standard tenants are pooled; premium tenants get a
// dedicated table.
const (
	TierBasic    Tier = "basic"
	TierStandard Tier = "standard"
	TierPremium  Tier = "premium"
)

// Valid reports whether t is a known tier.
func (t Tier) Valid() bool { return t == TierBasic || t == TierStandard || t == TierPremium }

// Status is a tenant's lifecycle state.
type Status string

// Lifecycle states. Transitions are conditional writes in the store.
const (
	StatusProvisioning Status = "PROVISIONING"
	StatusActive       Status = "ACTIVE"
	StatusSuspended    Status = "SUSPENDED"
	StatusOffboarding  Status = "OFFBOARDING"
	StatusOffboarded   Status = "OFFBOARDED"
	StatusFailed       Status = "FAILED"
	// StatusOffboardFailed: offboarding gave up (Reason says why); the
	// tenant's key is retired all the same, and an operator's new
	// offboarding request starts it again.
	StatusOffboardFailed Status = "OFFBOARD_FAILED"
	// StatusRestoring: an in-place restore of the tenant runs
	// (internal/control/backup). The tenant is read-only meanwhile: its
	// users may read (Readable) but not write (Usable); the restore makes it
	// ACTIVE again when it ends, whether it succeeded or rolled back.
	StatusRestoring Status = "RESTORING"
	// StatusMigrating: the tenant's data moves between the pool and a
	// dedicated table (a tier change; internal/control/backup). Its users
	// read and write as when ACTIVE, except in the short cutover window,
	// when a write gets 503 tenant_migrating; every write of a MIGRATING
	// tenant checks the placement's fence (Scope.ChecksFence), so a process
	// that still caches the old placement after the cutover cannot write
	// there.
	StatusMigrating Status = "MIGRATING"
)

// Placement says where a tenant's data lives.
type Placement struct {
	// Cell is the cell the tenant lives in (internal/platform/cell): the
	// deployment, in an account of its own, whose tables, keys and API
	// serve it. Recorded at creation; it never changes.
	Cell string `dynamodbav:"cell,omitempty" json:"cell,omitempty"`
	// Table is the pooled table or the tenant's dedicated table.
	Table string `dynamodbav:"table" json:"table"`
	// Dedicated is true for a table of the tenant's own.
	Dedicated bool `dynamodbav:"dedicated" json:"dedicated"`
	// KeyARN is the tenant's customer managed KMS key.
	KeyARN string `dynamodbav:"keyArn" json:"keyArn"`
	// Template is the TenantStack template version the dedicated table's
	// stack runs (tenantstack.Version when it was created or last
	// updated by the fleet runner); empty for the pooled table.
	Template string `dynamodbav:"template,omitempty" json:"template,omitempty"`
}

// Record is one tenant in the catalog.
type Record struct {
	TenantID  string    `dynamodbav:"tenantId" json:"tenantId"`
	Name      string    `dynamodbav:"name" json:"name"`
	Tier      Tier      `dynamodbav:"tier" json:"tier"`
	Status    Status    `dynamodbav:"status" json:"status"`
	Placement Placement `dynamodbav:"placement" json:"placement"`
	// AdminEmail is the first administrator, invited at onboarding.
	AdminEmail string `dynamodbav:"adminEmail" json:"adminEmail"`
	// Reason says why the tenant is FAILED, OFFBOARD_FAILED or SUSPENDED.
	Reason string `dynamodbav:"reason,omitempty" json:"reason,omitempty"`
	// KeyRequested is set before the provisioner first creates the
	// tenant's key, so a retry after a crash knows to look for an orphan.
	KeyRequested bool      `dynamodbav:"keyRequested,omitempty" json:"-"`
	CreatedAt    time.Time `dynamodbav:"createdAt" json:"createdAt"`
	UpdatedAt    time.Time `dynamodbav:"updatedAt" json:"updatedAt"`
	Version      int64     `dynamodbav:"version" json:"version"`

	// UsageKey is the value of the tenant's API key, which the tenant
	// authorizer returns as the usageIdentifierKey so that API Gateway's
	// usage plans count the verified tenant. Clients never send it; it is
	// never in the API's JSON (operators read it with `tessera tenants
	// apikey`) and never logged.
	UsageKey string `dynamodbav:"usageKey,omitempty" json:"-"`

	// Migration is the tenant's latest tier migration, running or ended.
	Migration *Migration `dynamodbav:"migration,omitempty" json:"migration,omitempty"`

	// Schema is the data migration (internal/control/migrations) the
	// tenant's items were born with: a tenant onboarded after migration N
	// shipped starts with every migration up to N, so the fleet runner
	// never applies those to it. Zero for tenants older than the runner,
	// and for clones (their items are copies of another tenant's).
	Schema int `dynamodbav:"schema,omitempty" json:"schema,omitempty"`

	// Settings are the tenant's own settings (GET/PUT /v1/settings), nil
	// until an admin writes them; cached with the record. Only the
	// tenant's scoped session writes them (store.TenantData.PutSettings),
	// and nothing else of the record.
	Settings *branding.Settings `dynamodbav:"settings,omitempty" json:"settings,omitempty"`

	// FlagOverrides are the tenant's feature flag overrides by flag name
	// (internal/platform/features), set by operators; cached with the
	// record, so an evaluation reads no flag item per tenant.
	FlagOverrides map[string]any `dynamodbav:"flagOverrides,omitempty" json:"flagOverrides,omitempty"`
	// BillingCustomerID is the tenant's customer id at the payment
	// provider (a Stripe customer, "cus_..."), which usage is reported to
	// (internal/control/billing); set by an operator. Empty: the tenant's
	// usage is not reported (the reporter says it skipped it).
	BillingCustomerID string `dynamodbav:"billingCustomerId,omitempty" json:"billingCustomerId,omitempty"`
}

// Migration is a move of a tenant's data between the pooled table and a
// dedicated one, with its progress (internal/control/backup runs it as a
// job of the tenant).
type Migration struct {
	JobID string `dynamodbav:"jobId" json:"jobId"`
	// ToDedicated is the direction: true from the pool to a dedicated
	// table, false back.
	ToDedicated bool `dynamodbav:"toDedicated" json:"toDedicated"`
	// Phase is the job's phase (recovery.Phase).
	Phase string `dynamodbav:"phase" json:"phase"`
	// Copied and Verified count the items copied to the new placement and
	// found equal there.
	Copied    int64     `dynamodbav:"copied" json:"itemsCopied"`
	Verified  int64     `dynamodbav:"verified" json:"itemsVerified"`
	StartedAt time.Time `dynamodbav:"startedAt" json:"startedAt"`
	// EndedAt and Outcome are set when it ends: "migrated", or "failed"
	// with Reason (the tenant stays on its old placement, ACTIVE).
	EndedAt time.Time `dynamodbav:"endedAt,omitempty" json:"endedAt,omitempty"`
	Outcome string    `dynamodbav:"outcome,omitempty" json:"outcome,omitempty"`
	Reason  string    `dynamodbav:"reason,omitempty" json:"reason,omitempty"`
	// OldPlacement is the placement a migrated tenant left: its copy stays
	// (fenced, read by processes whose cache is stale) until DeleteAfter,
	// then it is deleted (OldCopyDeleted).
	OldPlacement   *Placement `dynamodbav:"oldPlacement,omitempty" json:"oldPlacement,omitempty"`
	DeleteAfter    time.Time  `dynamodbav:"deleteAfter,omitempty" json:"deleteAfter,omitempty"`
	OldCopyDeleted bool       `dynamodbav:"oldCopyDeleted,omitempty" json:"oldCopyDeleted,omitempty"`
}

// Outcomes of a migration.
const (
	MigrationMigrated = "migrated"
	MigrationFailed   = "failed"
)

// Errors of the catalog.
var (
	// ErrNotFound: no such tenant.
	ErrNotFound = errors.New("catalog: tenant not found")
	// ErrSuspended: the tenant exists but may not use the app now (HTTP 403).
	ErrSuspended = errors.New("catalog: tenant is not active")
	// ErrReadOnly: the tenant may read but not write now, because a restore
	// of it runs (StatusRestoring); the same write succeeds once it ends
	// (HTTP 503 with Retry-After).
	ErrReadOnly = errors.New("tenant is read-only: restore in progress")
)

// Usable returns nil when the tenant's users may use the app fully, reads
// and writes (the tenant is ACTIVE or MIGRATING). Otherwise its error wraps ErrReadOnly
// when the tenant may still read (Readable), and ErrSuspended when it may
// not.
func (r Record) Usable() error {
	switch r.Status {
	case StatusActive, StatusMigrating:
		return nil
	case StatusRestoring:
		return fmt.Errorf("tenant %s is %s: %w", r.TenantID, r.Status, ErrReadOnly)
	}
	return fmt.Errorf("%w: tenant %s is %s", ErrSuspended, r.TenantID, r.Status)
}

// Readable returns nil when the tenant's users may read their data (the
// tenant is ACTIVE or MIGRATING, or RESTORING and so read-only), else an
// error wrapping ErrSuspended. Code that writes checks Usable as well.
func (r Record) Readable() error {
	if r.Status == StatusActive || r.Status == StatusRestoring || r.Status == StatusMigrating {
		return nil
	}
	return fmt.Errorf("%w: tenant %s is %s", ErrSuspended, r.TenantID, r.Status)
}

// Reader reads a tenant record from durable storage.
type Reader interface {
	GetTenant(ctx context.Context, tenantID string) (Record, error)
}
