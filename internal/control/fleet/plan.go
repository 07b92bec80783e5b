package fleet

import (
	"context"
	"fmt"
	"slices"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// Policy shapes the waves.
type Policy struct {
	// Canaries are the tenants of wave 0, by id. Empty: the first
	// CanaryCount non-premium tenants in id order.
	Canaries    []string
	CanaryCount int
	// FirstWave is the size of wave 1; each later wave is Growth times
	// the one before (defaults 2 and 2: 1 canary, 2, 4, 8, ...).
	FirstWave int
	Growth    int
	// PremiumFirst puts premium tenants among the others instead of in
	// the last waves (the default keeps the paying tenants for last).
	PremiumFirst bool
}

func (p Policy) withDefaults() Policy {
	if p.CanaryCount <= 0 {
		p.CanaryCount = 1
	}
	if p.FirstWave <= 0 {
		p.FirstWave = 2
	}
	if p.Growth <= 1 {
		p.Growth = 2
	}
	return p
}

// Plan is a target's rollout: every tenant that takes part, by wave.
type Plan struct {
	Target string `json:"target"`
	Waves  []Wave `json:"waves"`
}

// Wave is one wave of a plan. Waves are numbered 0 (the canaries), 1, 2...
// with no gaps.
type Wave struct {
	Number  int          `json:"wave"`
	Tenants []TenantPlan `json:"tenants"`
}

// TenantPlan is one tenant's place in a plan.
type TenantPlan struct {
	TenantID string `json:"tenantId"`
	Tier     string `json:"tier"`
	// State: pending, current (at the target already), busy (in a
	// state that excludes the work now), or the run's state (applying,
	// failed, rolled-back, ...).
	State string          `json:"state"`
	Run   *store.FleetRun `json:"run,omitempty"`
}

// Plan states beyond the run states.
const (
	StatePending = "pending"
	StateCurrent = "current"
	StateBusy    = "busy"
)

// Pending lists the wave's tenants that still need the target.
func (w Wave) Pending() []string {
	var out []string
	for _, t := range w.Tenants {
		if t.State != StateCurrent {
			out = append(out, t.TenantID)
		}
	}
	return out
}

// Counts tallies the wave's tenants by state.
func (w Wave) Counts() map[string]int {
	out := map[string]int{}
	for _, t := range w.Tenants {
		out[t.State]++
	}
	return out
}

// Plan computes the waves of t over the tenants the catalog holds now.
// Membership depends only on the tenants (not on their progress), so wave
// N stays wave N while the rollout runs.
func (r *Runner) Plan(ctx context.Context, t Target) (Plan, error) {
	recs, err := r.tenants(ctx)
	if err != nil {
		return Plan{}, err
	}
	var in []catalog.Record
	for _, rec := range recs {
		if eligible(t, rec) {
			in = append(in, rec)
		}
	}
	plan := Plan{Target: t.String()}
	for n, group := range r.d.Policy.waves(in) {
		w := Wave{Number: n}
		for _, rec := range group {
			tp, err := r.tenantPlan(ctx, t, rec)
			if err != nil {
				return Plan{}, err
			}
			w.Tenants = append(w.Tenants, tp)
		}
		plan.Waves = append(plan.Waves, w)
	}
	return plan, nil
}

func (r *Runner) tenantPlan(ctx context.Context, t Target, rec catalog.Record) (TenantPlan, error) {
	tp := TenantPlan{TenantID: rec.TenantID, Tier: string(rec.Tier)}
	run, found, err := r.d.Catalog.GetFleetRun(ctx, rec.TenantID, t.String())
	if err != nil {
		return tp, err
	}
	var rp *store.FleetRun
	if found {
		rp = &run
		tp.Run = rp
	}
	switch {
	case has(t, rec, rp):
		tp.State = StateCurrent
	case found && run.State != StateRolledBack:
		tp.State = run.State
	case !workable(rec):
		tp.State = StateBusy
	default:
		tp.State = StatePending
	}
	return tp, nil
}

// waves splits tenants (in id order) into waves: the canaries, then
// growing waves of the others, premium tenants last unless PremiumFirst.
func (p Policy) waves(recs []catalog.Record) [][]catalog.Record {
	recs = slices.Clone(recs)
	slices.SortFunc(recs, func(a, b catalog.Record) int {
		switch {
		case a.TenantID < b.TenantID:
			return -1
		case a.TenantID > b.TenantID:
			return 1
		}
		return 0
	})
	var canaries, rest, premium []catalog.Record
	for _, rec := range recs {
		switch {
		case slices.Contains(p.Canaries, rec.TenantID):
			canaries = append(canaries, rec)
		case rec.Tier == catalog.TierPremium && !p.PremiumFirst:
			premium = append(premium, rec)
		default:
			rest = append(rest, rec)
		}
	}
	if len(p.Canaries) == 0 {
		// The canaries come from the first waves' tenants; from the
		// premium ones only when there are no others (a stack rollout).
		if len(rest) > 0 {
			n := min(p.CanaryCount, len(rest))
			canaries, rest = rest[:n], rest[n:]
		} else {
			n := min(p.CanaryCount, len(premium))
			canaries, premium = premium[:n], premium[n:]
		}
	}
	var out [][]catalog.Record
	if len(canaries) > 0 {
		out = append(out, canaries)
	}
	size := p.FirstWave
	for _, group := range [][]catalog.Record{rest, premium} {
		for len(group) > 0 {
			n := min(size, len(group))
			out = append(out, group[:n])
			group = group[n:]
			size *= p.Growth
		}
	}
	return out
}

// String is a one-line summary of the plan.
func (p Plan) String() string {
	total, pending := 0, 0
	for _, w := range p.Waves {
		total += len(w.Tenants)
		pending += len(w.Pending())
	}
	return fmt.Sprintf("%s: %d waves, %d tenants, %d not current", p.Target, len(p.Waves), total, pending)
}
