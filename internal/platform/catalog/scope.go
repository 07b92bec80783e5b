package catalog

import (
	"errors"
	"fmt"

	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// ErrNoPlacement: the tenant has no placement yet (it is still being
// provisioned), so there is no data of its to reach.
var ErrNoPlacement = errors.New("catalog: tenant has no placement")

// Scope is the one way to a tenant's data: the tenant that a piece of code
// acts for, and where that tenant's data lives. internal/platform/store
// reaches tenant data only through a Scope (store.For), so code that forgets
// the tenant does not compile, and a search for ScopeOf and ActAs finds
// every place where the system acts as a tenant.
//
// A Scope is built from a catalog record only: for a request, together with
// the verified caller (ScopeOf); for background work, from the record that
// an event or message names (ActAs). The zero Scope reaches nothing.
type Scope struct {
	tenantID  string
	tier      Tier
	placement Placement
	fenced    bool
}

// ScopeOf is the scope of a verified caller of tenant t, whose record is
// rec. The two must agree, and the tenant must have a placement.
func ScopeOf(t tenant.Tenant, rec Record) (Scope, error) {
	if t.ID != rec.TenantID {
		return Scope{}, fmt.Errorf("scope of caller of tenant %s: record is of tenant %s: %w", t.ID, rec.TenantID, tenant.ErrUnauthenticated)
	}
	return ActAs(rec)
}

// ActAs is the scope of background work acting for rec's tenant (the
// provisioner, the export worker, the usage report): the tenant comes from
// the record that the event or message named, never from ambient state.
func ActAs(rec Record) (Scope, error) {
	if !tenant.ValidID(rec.TenantID) {
		return Scope{}, fmt.Errorf("scope: %q is not a tenant id: %w", rec.TenantID, tenant.ErrUnauthenticated)
	}
	if rec.Placement.Table == "" {
		return Scope{}, fmt.Errorf("scope of tenant %s: %w", rec.TenantID, ErrNoPlacement)
	}
	return Scope{tenantID: rec.TenantID, tier: rec.Tier, placement: rec.Placement, fenced: rec.Status == StatusMigrating}, nil
}

// TenantID is the tenant the scope acts for.
func (s Scope) TenantID() string { return s.tenantID }

// Tier is the tenant's tier when the scope was built.
func (s Scope) Tier() Tier { return s.tier }

// Placement is where the tenant's data lives.
func (s Scope) Placement() Placement { return s.placement }

// ChecksFence reports whether the tenant's writes must check its
// placement's fence: it was MIGRATING when the scope was built. A migration
// sets the fence only once every process's cached record says MIGRATING,
// so that a write with a stale placement fails instead of landing in the
// copy the tenant has left (internal/platform/store, fence.go).
func (s Scope) ChecksFence() bool { return s.fenced }

// Valid reports whether the scope was built by ScopeOf or ActAs.
func (s Scope) Valid() bool { return s.tenantID != "" && s.placement.Table != "" }
