package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tessera-saas/tessera/internal/control/migrations"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/entityid"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// Run states (store.FleetRun.State).
const (
	StateApplying    = "applying"
	StateApplied     = "applied"
	StateFailed      = "failed"
	StateRollingBack = "rolling-back"
	StateRolledBack  = "rolled-back"
)

// Errors of the runner.
var (
	// ErrHalted: a wave's failures crossed the failure threshold (any
	// failure, in the canary wave), and the rollout stopped.
	ErrHalted = errors.New("fleet: rollout halted")
	// ErrBusy: another runner holds the tenant, or the tenant is in a
	// state that excludes the work (a tier migration, a restore).
	ErrBusy = errors.New("fleet: tenant busy")
	// ErrNotEligible: the tenant is not part of the target (offboarded,
	// or pooled for a stack target).
	ErrNotEligible = errors.New("fleet: tenant not part of this rollout")
	// ErrBadTarget: the target names no migration or template version.
	ErrBadTarget = errors.New("fleet: unknown target")
	// ErrEarlierWave: a wave was asked for while an earlier one is not
	// done.
	ErrEarlierWave = errors.New("fleet: an earlier wave is not done")
	// ErrNoDown: the migration cannot be undone.
	ErrNoDown = errors.New("fleet: the migration has no Down")
)

// Catalog is the part of the catalog the runner uses.
type Catalog interface {
	GetTenant(ctx context.Context, tenantID string) (catalog.Record, error)
	ListTenants(ctx context.Context, req store.PageRequest) (store.Page[catalog.Record], error)
	FleetRuns(ctx context.Context, tenantID string) ([]store.FleetRun, error)
	GetFleetRun(ctx context.Context, tenantID, target string) (store.FleetRun, bool, error)
	SaveFleetRun(ctx context.Context, run store.FleetRun, audit *store.AuditEntry) (store.FleetRun, error)
	Apply(ctx context.Context, tenantID string, ch store.Change, ev *store.OutboxEvent, audit *store.AuditEntry) (catalog.Record, error)
}

// Stacks updates a dedicated tenant's TenantStack to the current template
// (provision.Tables) and returns the version it then runs.
type Stacks interface {
	Update(ctx context.Context, tenantID string) (string, error)
}

// Deps are the runner's dependencies.
type Deps struct {
	Catalog Catalog
	Data    *store.Store
	Stacks  Stacks
	// Migrations is migrations.All() (tests inject failures here).
	Migrations []migrations.Migration
	// Template is the current TenantStack template version
	// (tenantstack.Version()).
	Template string
	Policy   Policy
	// Only, when set, limits rollouts to the tenants it accepts (the
	// CLI's --tenants).
	Only func(catalog.Record) bool
	// PageSize is how many items a migration reads per page, and so how
	// often its checkpoint is saved (default 100).
	PageSize int32
	// Hold is how long a run holds its tenant without saving before
	// another runner may take it over (default 2 minutes).
	Hold  time.Duration
	Now   func() time.Time
	Log   *slog.Logger
	Owner string
}

// Runner plans and applies rollouts.
type Runner struct{ d Deps }

// New returns a runner; Deps' zero fields take their defaults.
func New(d Deps) (*Runner, error) {
	if d.Migrations == nil {
		d.Migrations = migrations.All()
	}
	if err := migrations.Validate(d.Migrations); err != nil {
		return nil, err
	}
	if d.PageSize <= 0 {
		d.PageSize = 100
	}
	if d.Hold <= 0 {
		d.Hold = 2 * time.Minute
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Owner == "" {
		d.Owner = "fleet-" + entityid.New()
	}
	d.Policy = d.Policy.withDefaults()
	return &Runner{d: d}, nil
}

// Target is what a rollout brings every tenant to: a data migration, or
// the current TenantStack template version.
type Target struct {
	Migration *migrations.Migration
	Template  string
}

// String names the target as runs and the CLI do:
// "migration/0001-product-sku-key" or "stack/2".
func (t Target) String() string {
	if t.Migration != nil {
		return "migration/" + t.Migration.Ref()
	}
	return "stack/" + t.Template
}

// Target parses a target: "migration/0001" (or a migration's number or
// name alone), "stack" or "stack/<version>" (the current version only: the
// template body rolled out is the one checked in).
func (r *Runner) Target(ref string) (Target, error) {
	kind, rest, _ := strings.Cut(ref, "/")
	switch kind {
	case "stack":
		if rest != "" && rest != r.d.Template {
			return Target{}, fmt.Errorf("%w: stack/%s: the checked-in TenantStack template is version %s", ErrBadTarget, rest, r.d.Template)
		}
		return Target{Template: r.d.Template}, nil
	case "migration":
	default:
		rest = ref
	}
	m, err := migrations.Find(r.d.Migrations, rest)
	if err != nil {
		return Target{}, fmt.Errorf("%w: %w", ErrBadTarget, err)
	}
	return Target{Migration: &m}, nil
}

// Targets lists every target the runner knows: each migration, and the
// current template version.
func (r *Runner) Targets() []Target {
	out := make([]Target, 0, len(r.d.Migrations)+1)
	for i := range r.d.Migrations {
		out = append(out, Target{Migration: &r.d.Migrations[i]})
	}
	return append(out, Target{Template: r.d.Template})
}

// tenants reads every tenant record of the catalog, in id order.
func (r *Runner) tenants(ctx context.Context) ([]catalog.Record, error) {
	var all []catalog.Record
	req := store.PageRequest{Limit: 100}
	for {
		page, err := r.d.Catalog.ListTenants(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		for _, rec := range page.Items {
			if r.d.Only == nil || r.d.Only(rec) {
				all = append(all, rec)
			}
		}
		if page.Next == "" {
			return all, nil
		}
		req.Cursor = page.Next
	}
}

// eligible reports whether rec takes part in t at all.
func eligible(t Target, rec catalog.Record) bool {
	switch rec.Status {
	case catalog.StatusOffboarding, catalog.StatusOffboarded, catalog.StatusOffboardFailed, catalog.StatusFailed:
		return false
	}
	// Stacks: the tenants with a dedicated table (a tenant moving to one
	// gets a stack of the current template).
	return t.Migration != nil || rec.Placement.Dedicated
}

// workable reports whether rec can be worked on now (not mid-way through
// onboarding, a tier migration or a restore).
func workable(rec catalog.Record) bool {
	return rec.Status == catalog.StatusActive || rec.Status == catalog.StatusSuspended
}

// has reports whether the tenant is at the target already. A migration:
// its run says applied, or (with no run) it was born with it. A template
// version: its stack runs it (the catalog's placement says so).
func has(t Target, rec catalog.Record, run *store.FleetRun) bool {
	if t.Migration == nil {
		return rec.Placement.Dedicated && rec.Placement.Template == t.Template
	}
	if run != nil {
		switch run.State {
		case StateApplied:
			return true
		case StateRolledBack, StateFailed, StateApplying, StateRollingBack:
			return false
		}
	}
	return rec.Schema >= t.Migration.ID
}
