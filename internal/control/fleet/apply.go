package fleet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tessera-saas/tessera/internal/control/migrations"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// Options tune Apply and Rollback.
type Options struct {
	// Wave, when 0 or more, runs only that wave (the earlier ones must be
	// done); -1 runs every wave in order.
	Wave int
	// MaxConcurrency bounds the tenants worked on at once (default 4).
	MaxConcurrency int
	// FailureThreshold is the percentage of a wave's tenants that may
	// fail before the rollout stops (the canary wave tolerates none).
	FailureThreshold float64
	// Actor is who runs the rollout (recorded per tenant and audited).
	Actor string
	// Progress, when set, is called as each tenant ends.
	Progress func(Progress)
}

// Progress reports one tenant's end within its wave.
type Progress struct {
	Target   string `json:"target"`
	Wave     int    `json:"wave"`
	TenantID string `json:"tenantId"`
	Outcome  string `json:"outcome"`
	Changed  int64  `json:"itemsChanged"`
	Error    string `json:"error,omitempty"`
	// Done, Failed and Total count the wave's tenants so far.
	Done, Failed, Total int
	Took                time.Duration
}

// Report is what a rollout did.
type Report struct {
	Target string       `json:"target"`
	Waves  []WaveReport `json:"waves"`
	Halted bool         `json:"halted"`
	Reason string       `json:"reason,omitempty"`
}

// WaveReport is what a rollout did in one wave.
type WaveReport struct {
	Wave     int       `json:"wave"`
	Tenants  int       `json:"tenants"`
	Done     int       `json:"done"`
	Current  int       `json:"current"`
	Failed   int       `json:"failed"`
	Busy     int       `json:"busy"`
	Skipped  int       `json:"skipped"`
	Failures []Failure `json:"failures,omitempty"`
}

// Failure is one tenant's failure.
type Failure struct {
	TenantID string `json:"tenantId"`
	Error    string `json:"error"`
}

// Result is one tenant's outcome.
type Result struct {
	TenantID string `json:"tenantId"`
	// Outcome: applied or rolled-back (the work ran), current (nothing
	// to do), failed.
	Outcome string `json:"outcome"`
	Scanned int64  `json:"itemsScanned"`
	Changed int64  `json:"itemsChanged"`
}

// Outcomes beyond the run states.
const OutcomeCurrent = "current"

// direction is Apply's or Rollback's side of a run.
type direction struct {
	running, done, verb string
	rollback            bool
}

var (
	forward  = direction{running: StateApplying, done: StateApplied, verb: "fleet.apply"}
	backward = direction{running: StateRollingBack, done: StateRolledBack, verb: "fleet.rollback", rollback: true}
)

// Apply rolls t out wave by wave (or runs one wave), and stops when a
// wave's failures cross the threshold or a wave has tenants that cannot
// be worked on now: ErrHalted, with the report of what ran.
func (r *Runner) Apply(ctx context.Context, t Target, o Options) (Report, error) {
	plan, err := r.Plan(ctx, t)
	if err != nil {
		return Report{}, err
	}
	return r.roll(ctx, t, plan.Waves, o, forward)
}

// Rollback runs the migration's Down on every tenant of the plan that is
// not rolled back yet, in reverse wave order (the last wave first, the
// canaries last), with the same concurrency and threshold as Apply.
// Items written in the new format since (the store writes it) are brought
// back too.
func (r *Runner) Rollback(ctx context.Context, t Target, o Options) (Report, error) {
	if t.Migration == nil {
		return Report{}, fmt.Errorf("%w: %s: a template version is rolled back by CloudFormation when its update fails", ErrBadTarget, t)
	}
	if t.Migration.Down == nil {
		return Report{}, fmt.Errorf("%s: %w", t, ErrNoDown)
	}
	plan, err := r.Plan(ctx, t)
	if err != nil {
		return Report{}, err
	}
	waves := make([]Wave, 0, len(plan.Waves))
	for i := len(plan.Waves) - 1; i >= 0; i-- {
		waves = append(waves, plan.Waves[i])
	}
	return r.roll(ctx, t, waves, o, backward)
}

// todo lists the tenants of w that the run in direction d still has to
// work on.
func todo(w Wave, d direction) []TenantPlan {
	var out []TenantPlan
	for _, tp := range w.Tenants {
		if d.rollback && tp.Run != nil && tp.Run.State == StateRolledBack {
			continue
		}
		if !d.rollback && tp.State == StateCurrent {
			continue
		}
		out = append(out, tp)
	}
	return out
}

func (r *Runner) roll(ctx context.Context, t Target, waves []Wave, o Options, d direction) (Report, error) {
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = 4
	}
	if o.FailureThreshold < 0 || o.FailureThreshold > 100 {
		return Report{}, fmt.Errorf("failure threshold %v: must be a percentage from 0 to 100", o.FailureThreshold)
	}
	rep := Report{Target: t.String()}
	if o.Wave >= 0 && !hasWave(waves, o.Wave) {
		return rep, fmt.Errorf("%s has no wave %d (waves 0 to %d)", t, o.Wave, len(waves)-1)
	}
	for _, w := range waves {
		if o.Wave >= 0 && w.Number != o.Wave {
			if n := len(todo(w, d)); n > 0 && before(w.Number, o.Wave, d) {
				return rep, fmt.Errorf("wave %d has %d tenants not done: %w", w.Number, n, ErrEarlierWave)
			}
			continue
		}
		wr := r.runWave(ctx, t, w, o, d)
		rep.Waves = append(rep.Waves, wr)
		threshold := o.threshold(w.Number)
		switch {
		case ctx.Err() != nil:
			return rep, ctx.Err()
		case over(wr.Failed, wr.Tenants, threshold):
			rep.Halted = true
			rep.Reason = fmt.Sprintf("wave %d: %d of %d tenants failed (tolerated: %g%%)", w.Number, wr.Failed, wr.Tenants, threshold)
		case wr.Busy > 0:
			rep.Halted = true
			rep.Reason = fmt.Sprintf("wave %d: %d tenants busy (a tier migration, a restore or another runner); run again when they are done", w.Number, wr.Busy)
		}
		if rep.Halted {
			r.d.Log.Warn("fleet rollout halted", "target", rep.Target, "wave", w.Number, "reason", rep.Reason)
			return rep, fmt.Errorf("%w: %s", ErrHalted, rep.Reason)
		}
	}
	return rep, nil
}

// threshold is the failure percentage wave tolerates: none for the
// canaries (wave 0), o.FailureThreshold for the others.
func (o Options) threshold(wave int) float64 {
	if wave == 0 {
		return 0
	}
	return o.FailureThreshold
}

// before reports whether wave a runs before wave b in direction d.
func before(a, b int, d direction) bool {
	if d.rollback {
		return a > b
	}
	return a < b
}

func hasWave(waves []Wave, n int) bool {
	for _, w := range waves {
		if w.Number == n {
			return true
		}
	}
	return false
}

// over reports whether failed of total crosses threshold percent.
func over(failed, total int, threshold float64) bool {
	return total > 0 && float64(failed)*100 > threshold*float64(total)
}

// runWave works on the wave's tenants, MaxConcurrency at a time, and stops
// starting new ones once the failures cross the threshold.
func (r *Runner) runWave(ctx context.Context, t Target, w Wave, o Options, d direction) WaveReport {
	wr := WaveReport{Wave: w.Number, Tenants: len(w.Tenants)}
	work := todo(w, d)
	wr.Skipped = len(w.Tenants) - len(work)
	if !d.rollback {
		wr.Current = wr.Skipped
	}
	threshold := o.threshold(w.Number)
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		sem  = make(chan struct{}, o.MaxConcurrency)
		stop bool
	)
	for _, tp := range work {
		sem <- struct{}{}
		mu.Lock()
		halt := stop || ctx.Err() != nil
		mu.Unlock()
		if halt {
			<-sem
			break
		}
		wg.Add(1)
		go func(tp TenantPlan) {
			defer wg.Done()
			defer func() { <-sem }()
			began := r.d.Now()
			res, err := r.tenant(ctx, t, tp.TenantID, o.Actor, w.Number, d)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrBusy):
				wr.Busy++
			case err != nil:
				wr.Failed++
				wr.Failures = append(wr.Failures, Failure{TenantID: tp.TenantID, Error: err.Error()})
				res.Outcome = StateFailed
			case res.Outcome == OutcomeCurrent:
				wr.Current++
			default:
				wr.Done++
			}
			if over(wr.Failed, wr.Tenants, threshold) {
				stop = true
			}
			if o.Progress != nil {
				p := Progress{Target: t.String(), Wave: w.Number, TenantID: tp.TenantID, Outcome: res.Outcome, Changed: res.Changed,
					Done: wr.Done + wr.Current + wr.Failed + wr.Busy, Failed: wr.Failed, Total: len(work), Took: r.d.Now().Sub(began)}
				if err != nil {
					p.Error = err.Error()
					if errors.Is(err, ErrBusy) {
						p.Outcome = StateBusy
					}
				}
				o.Progress(p)
			}
		}(tp)
	}
	wg.Wait()
	return wr
}

// ApplyTenant brings one tenant to t (the Step Functions map's item): it
// runs the migration's Up from the tenant's checkpoint, or updates its
// stack. A tenant at the target already is OutcomeCurrent. The error is
// ErrBusy when the tenant cannot be worked on now, and the cause of the
// failure (recorded in the tenant's run) otherwise. wave is recorded in
// the run (-1: unknown).
func (r *Runner) ApplyTenant(ctx context.Context, t Target, tenantID, actor string, wave int) (Result, error) {
	return r.tenant(ctx, t, tenantID, actor, wave, forward)
}

// RollbackTenant runs the migration's Down on one tenant.
func (r *Runner) RollbackTenant(ctx context.Context, t Target, tenantID, actor string) (Result, error) {
	if t.Migration == nil || t.Migration.Down == nil {
		return Result{}, fmt.Errorf("%s: %w", t, ErrNoDown)
	}
	return r.tenant(ctx, t, tenantID, actor, -1, backward)
}

func (r *Runner) tenant(ctx context.Context, t Target, tenantID, actor string, wave int, d direction) (Result, error) {
	res := Result{TenantID: tenantID}
	rec, err := r.d.Catalog.GetTenant(ctx, tenantID)
	if err != nil {
		return res, fmt.Errorf("tenant %s: %w", tenantID, err)
	}
	if !eligible(t, rec) {
		return res, fmt.Errorf("tenant %s (%s, %s): %w", tenantID, rec.Status, placementWord(rec), ErrNotEligible)
	}
	run, found, err := r.d.Catalog.GetFleetRun(ctx, tenantID, t.String())
	if err != nil {
		return res, err
	}
	var rp *store.FleetRun
	if found {
		rp = &run
	}
	if !d.rollback && has(t, rec, rp) || d.rollback && found && run.State == StateRolledBack {
		res.Outcome = OutcomeCurrent
		return res, nil
	}
	now := r.d.Now()
	if !workable(rec) {
		return res, fmt.Errorf("tenant %s is %s: %w", tenantID, rec.Status, ErrBusy)
	}
	if found && run.Owner != "" && run.Owner != r.d.Owner && run.HeldUntil > now.UnixMilli() {
		return res, fmt.Errorf("tenant %s: held by runner %s until %s: %w", tenantID, run.Owner, time.UnixMilli(run.HeldUntil).UTC().Format(time.RFC3339), ErrBusy)
	}
	if !found {
		run = store.FleetRun{TenantID: tenantID, Target: t.String()}
	}
	if run.State != d.running && run.State != StateFailed || run.State == StateFailed && run.Pass != d.running {
		// A new pass (not the resumption of a stopped one of this
		// direction): from the first item.
		run.Checkpoint, run.Scanned, run.Changed, run.StartedAt = "", 0, 0, now
	}
	resumed := run.Checkpoint
	run.State, run.Pass, run.By, run.Owner, run.HeldUntil, run.Error, run.EndedAt = d.running, d.running, actor, r.d.Owner, now.Add(r.d.Hold).UnixMilli(), "", time.Time{}
	if wave >= 0 {
		run.Wave = wave
	}
	if run.StartedAt.IsZero() {
		run.StartedAt = now
	}
	if run, err = r.d.Catalog.SaveFleetRun(ctx, run, nil); err != nil {
		if errors.Is(err, store.ErrRunChanged) {
			return res, fmt.Errorf("tenant %s: %w: %w", tenantID, ErrBusy, err)
		}
		return res, err
	}
	log := r.d.Log.With("tenantId", tenantID, "target", t.String(), "actor", actor)
	log.Info("fleet run started", "direction", d.verb, "wave", run.Wave, "resumeAfter", resumed)

	if t.Migration != nil {
		step := t.Migration.Up
		if d.rollback {
			step = t.Migration.Down
		}
		err = r.migrate(ctx, rec, step, t.Migration.Partition, &run)
	} else {
		err = r.updateStack(ctx, rec)
	}
	res.Scanned, res.Changed = run.Scanned, run.Changed
	run.Owner, run.HeldUntil, run.EndedAt = "", 0, r.d.Now()
	if err != nil {
		run.State, run.Error = StateFailed, fmt.Sprintf("%s: %v", d.running, err)
		res.Outcome = StateFailed
		if _, serr := r.d.Catalog.SaveFleetRun(context.WithoutCancel(ctx), run, &store.AuditEntry{Action: d.verb, Actor: actor,
			Detail: fmt.Sprintf("%s failed after %d items (%d changed): %v", t, run.Scanned, run.Changed, err)}); serr != nil {
			log.Error("fleet run: recording the failure failed", "err", serr)
		}
		log.Warn("fleet run failed", "itemsScanned", run.Scanned, "itemsChanged", run.Changed, "err", err)
		return res, fmt.Errorf("tenant %s: %s: %w", tenantID, t, err)
	}
	run.State, run.Checkpoint = d.done, ""
	if _, err := r.d.Catalog.SaveFleetRun(ctx, run, &store.AuditEntry{Action: d.verb, Actor: actor,
		Detail: fmt.Sprintf("%s %s: %d items, %d changed", t, d.done, run.Scanned, run.Changed)}); err != nil {
		return res, fmt.Errorf("tenant %s: record %s: %w", tenantID, d.done, err)
	}
	res.Outcome = d.done
	log.Info("fleet run done", "outcome", d.done, "itemsScanned", run.Scanned, "itemsChanged", run.Changed,
		"tookMs", r.d.Now().Sub(run.StartedAt).Milliseconds())
	return res, nil
}

// migrate walks the tenant's partition from the run's checkpoint with the
// tenant's own credentials, applies step to every item, and saves the
// checkpoint after every page.
func (r *Runner) migrate(ctx context.Context, rec catalog.Record, step migrations.Step, partition string, run *store.FleetRun) error {
	sc, err := catalog.ActAs(rec)
	if err != nil {
		return err
	}
	data := r.d.Data.For(sc)
	return data.ScanFrom(ctx, partition, run.Checkpoint, r.d.PageSize, func(items []store.Item) error {
		var changed int64
		for _, it := range items {
			wrote, err := step(ctx, data, rec.TenantID, it)
			if err != nil {
				// What this page changed so far is kept in the counts;
				// the checkpoint stays at the page before.
				run.Changed += changed
				return fmt.Errorf("item %s: %w", store.SortKeyOf(it), err)
			}
			if wrote {
				changed++
			}
		}
		next := *run
		next.Checkpoint = store.SortKeyOf(items[len(items)-1])
		next.Scanned += int64(len(items))
		next.Changed += changed
		next.HeldUntil = r.d.Now().Add(r.d.Hold).UnixMilli()
		saved, err := r.d.Catalog.SaveFleetRun(ctx, next, nil)
		if err != nil {
			return fmt.Errorf("save checkpoint: %w", err)
		}
		*run = saved
		return nil
	})
}

// updateStack updates the tenant's TenantStack and records the version in
// its placement.
func (r *Runner) updateStack(ctx context.Context, rec catalog.Record) error {
	if r.d.Stacks == nil {
		return errors.New("no stack updater configured")
	}
	version, err := r.d.Stacks.Update(ctx, rec.TenantID)
	if err != nil {
		return err
	}
	_, err = r.d.Catalog.Apply(ctx, rec.TenantID, store.Change{Template: version, Table: rec.Placement.Table,
		From: []catalog.Status{catalog.StatusActive, catalog.StatusSuspended}}, nil, nil)
	if err != nil {
		return fmt.Errorf("record template version %s: %w", version, err)
	}
	return nil
}

func placementWord(rec catalog.Record) string {
	if rec.Placement.Dedicated {
		return "dedicated"
	}
	return "pooled"
}
