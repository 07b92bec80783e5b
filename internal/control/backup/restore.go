package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/outbox"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// Cloner creates the new tenant of a restore into a new tenant.
type Cloner interface {
	// Clone starts onboarding a new tenant named name, of src's tier and
	// admin, and returns its record; called again for the same job it
	// returns the same tenant. The clone is ready when its record is ACTIVE.
	Clone(ctx context.Context, src catalog.Record, name, jobID string) (catalog.Record, error)
}

// errPermanent marks failures that no retry mends: the job ends (a restore
// that had begun writing rolls back).
var errPermanent = errors.New("permanent")

func permanent(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errPermanent, fmt.Sprintf(format, args...))
}

// MaxAttempts bounds the runs of one job that fail on a transient error
// before it ends (rolling back).
const MaxAttempts = 4

// pollEvery is how often a waiting phase looks again within one Run;
// fencedPollEvery while a migration's source is fenced, when the tenant's
// writes wait for it.
const (
	pollEvery       = 500 * time.Millisecond
	fencedPollEvery = 100 * time.Millisecond
)

func pollInterval(job recovery.Job) time.Duration {
	if job.Kind == recovery.KindMigration && !job.FencedAt.IsZero() {
		return fencedPollEvery
	}
	return pollEvery
}

// Run advances the job until it ends, or until it must wait longer than
// Deps.Wait (an error wrapping ErrWaiting: run it again later). It is safe
// to call again at any point, after a crash too: each phase is idempotent
// and the job records the phase it is at. A transient error is returned
// (the caller retries); after MaxAttempts of them the job ends, a restore
// rolling the tenant back.
func (s *Service) Run(ctx context.Context, tenantID, jobID string) error {
	job, err := s.d.Catalog.GetJob(ctx, tenantID, jobID)
	if err != nil {
		return err
	}
	deadline := s.d.Now().Add(s.d.Wait)
	phaseAt := s.d.Now()
	for !job.State.Done() {
		next, err := s.step(ctx, job)
		switch {
		case err == nil:
			if next.Phase != job.Phase || next.State.Done() {
				now := s.d.Now()
				s.d.Log.InfoContext(ctx, "job phase done", "tenantId", tenantID, "jobId", jobID, "kind", string(job.Kind), "phase", string(job.Phase),
					"next", string(next.Phase), "tookMs", now.Sub(phaseAt).Milliseconds(), "items", next.ItemsDone)
				phaseAt = now
			}
			job = next
		case errors.Is(err, ErrWaiting):
			if s.d.Now().Add(pollEvery).After(deadline) {
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(pollInterval(job)):
			}
			if job, err = s.d.Catalog.GetJob(ctx, tenantID, jobID); err != nil {
				return err
			}
		case errors.Is(err, errPermanent):
			s.d.Log.ErrorContext(ctx, "backup job failed", "tenantId", tenantID, "jobId", jobID, "phase", string(job.Phase), "error", err.Error())
			if job, err = s.abort(ctx, job, err); err != nil {
				return err
			}
		default:
			job.Attempts++
			s.d.Log.WarnContext(ctx, "backup job step failed", "tenantId", tenantID, "jobId", jobID, "phase", string(job.Phase), "attempt", job.Attempts, "error", err.Error())
			if job.Attempts < MaxAttempts {
				if _, serr := s.d.Catalog.SaveJob(ctx, job, nil, nil); serr != nil {
					return errors.Join(err, serr)
				}
				return err
			}
			if job, err = s.abort(ctx, job, err); err != nil {
				return err
			}
		}
	}
	return nil
}

// step runs the job's current phase and returns the job as saved after it.
func (s *Service) step(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	switch job.Kind {
	case recovery.KindBackup:
		return s.backupStep(ctx, job)
	case recovery.KindMigration:
		return s.migrationStep(ctx, job)
	}
	switch job.Phase {
	case recovery.PhaseQueued:
		job.State = recovery.StateRunning
		if job.InPlace() {
			return s.moveTo(ctx, job, recovery.PhaseFence)
		}
		return s.moveTo(ctx, job, recovery.PhaseClone)
	case recovery.PhaseClone:
		return s.clone(ctx, job)
	case recovery.PhaseFence:
		return s.fence(ctx, job)
	case recovery.PhaseDrain:
		return s.drain(ctx, job)
	case recovery.PhaseSafety:
		return s.safety(ctx, job)
	case recovery.PhaseApply, recovery.PhaseVerify:
		return s.apply(ctx, job)
	case recovery.PhaseRollback:
		return s.rollback(ctx, job)
	case recovery.PhaseDone:
		return s.finish(ctx, job)
	}
	return job, permanent("unknown phase %q", job.Phase)
}

func (s *Service) moveTo(ctx context.Context, job recovery.Job, p recovery.Phase) (recovery.Job, error) {
	job.Phase = p
	job.Attempts = 0
	return s.d.Catalog.SaveJob(ctx, job, nil, nil)
}

func (s *Service) backupStep(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	if job.SnapshotID == "" {
		job.SnapshotID, job.State, job.Phase = recovery.NewSnapshotID(), recovery.StateRunning, recovery.PhaseSnapshot
		return s.d.Catalog.SaveJob(ctx, job, nil, nil)
	}
	rec, err := s.d.Catalog.GetTenant(ctx, job.TenantID)
	if err != nil {
		return job, err
	}
	if rec.Status != catalog.StatusActive {
		return job, permanent("tenant is %s", rec.Status)
	}
	snap, err := s.TakeSnapshot(ctx, rec, job.SnapshotID, job.Trigger)
	if err != nil {
		return job, err
	}
	job.Items, job.ItemsDone, job.State, job.Phase = snap.Items, snap.Items, recovery.StateSucceeded, recovery.PhaseDone
	return s.d.Catalog.SaveJob(ctx, job, nil, &store.AuditEntry{Action: "backup", Actor: job.Actor,
		Detail: fmt.Sprintf("snapshot %s: %d items, checksum %s (job %s)", snap.ID, snap.Items, snap.Checksum, job.ID)})
}

// target is the tenant whose items a restore writes: the tenant itself, or
// its clone.
func (s *Service) target(ctx context.Context, job recovery.Job) (catalog.Record, error) {
	id := job.TenantID
	if !job.InPlace() {
		id = job.IntoTenant
	}
	return s.d.Catalog.GetTenant(ctx, id)
}

// clone starts (or finds) the new tenant and waits until it is onboarded.
func (s *Service) clone(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	if s.d.Cloner == nil {
		return job, permanent("no cloner is configured")
	}
	src, err := s.d.Catalog.GetTenant(ctx, job.TenantID)
	if err != nil {
		return job, err
	}
	if job.IntoTenant == "" {
		rec, err := s.d.Cloner.Clone(ctx, src, job.IntoName, job.ID)
		if err != nil {
			return job, fmt.Errorf("clone tenant %s: %w", job.TenantID, err)
		}
		job.IntoTenant = rec.TenantID
		return s.d.Catalog.SaveJob(ctx, job, nil, &store.AuditEntry{Action: "restore-clone", Actor: job.Actor,
			Detail: "restoring into new tenant " + rec.TenantID + " (job " + job.ID + ")"})
	}
	rec, err := s.d.Catalog.GetTenant(ctx, job.IntoTenant)
	if err != nil {
		return job, err
	}
	switch rec.Status {
	case catalog.StatusActive, catalog.StatusRestoring:
		return s.moveTo(ctx, job, recovery.PhaseFence)
	case catalog.StatusProvisioning:
		return job, fmt.Errorf("%w: new tenant %s is still being onboarded", ErrWaiting, rec.TenantID)
	}
	return job, permanent("new tenant %s is %s: %s", rec.TenantID, rec.Status, rec.Reason)
}

// fence makes the restored tenant read-only (RESTORING).
func (s *Service) fence(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	rec, err := s.target(ctx, job)
	if err != nil {
		return job, err
	}
	if rec.Status != catalog.StatusRestoring {
		if rec.Status != catalog.StatusActive {
			return job, permanent("tenant %s is %s", rec.TenantID, rec.Status)
		}
		_, err := s.d.Catalog.Apply(ctx, rec.TenantID, store.Change{From: []catalog.Status{catalog.StatusActive}, To: catalog.StatusRestoring,
			Reason: "restore " + job.ID + " in progress"}, nil,
			&store.AuditEntry{Action: "restore-started", Actor: job.Actor, Detail: "read-only for restore to " + job.To.Format(time.RFC3339Nano) + " (job " + job.ID + ")"})
		if errors.Is(err, store.ErrStatusChanged) {
			return job, permanent("tenant %s changed state before the restore began", rec.TenantID)
		}
		if err != nil {
			return job, err
		}
	}
	job.FencedAt = s.d.Now().UTC()
	job.Phase = recovery.PhaseDrain
	return s.d.Catalog.SaveJob(ctx, job, nil, nil)
}

// drain waits until no process may still treat the tenant as writable (the
// catalog cache's TTL after the fence; a migration has waited for it
// before it set the fence) and until the change feed has logged every
// change of the source tenant up to now: a marker item written now is in
// the log.
func (s *Service) drain(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	if job.InPlace() {
		if wait := job.FencedAt.Add(s.d.CatalogTTL + time.Second).Sub(s.d.Now()); wait > 0 {
			return job, fmt.Errorf("%w: catalog caches may hold the tenant as active for %s more", ErrWaiting, wait.Round(time.Millisecond))
		}
	}
	src, err := s.d.Catalog.GetTenant(ctx, job.TenantID)
	if err != nil {
		return job, err
	}
	if job.Marker == "" {
		sc, err := scopeOf(src)
		if err != nil {
			return job, err
		}
		pk, sk, err := s.d.Data.For(sc).PutFeedMarker(ctx, job.ID)
		if err != nil {
			return job, err
		}
		job.Marker = pk + "\x00" + sk
		job.MarkedAt = s.d.Now().UTC()
		return s.d.Catalog.SaveJob(ctx, job, nil, nil)
	}
	pk, sk, _ := strings.Cut(job.Marker, "\x00")
	ok, err := s.markerLogged(ctx, job.TenantID, sk)
	if err != nil {
		return job, err
	}
	if !ok {
		return job, fmt.Errorf("%w: the change feed has not logged the tenant's latest changes yet", ErrWaiting)
	}
	// The marker has served; remove it (its removal is logged too, and
	// ignored by replays like the marker itself).
	sc, err := scopeOf(src)
	if err != nil {
		return job, err
	}
	if err := s.d.Data.For(sc).WriteItems(ctx, nil, []store.Item{markerKey(pk, sk)}); err != nil {
		return job, err
	}
	switch {
	case job.Kind == recovery.KindMigration:
		return s.advance(ctx, job, recovery.PhaseFinal)
	case job.InPlace():
		return s.moveTo(ctx, job, recovery.PhaseSafety)
	}
	return s.moveTo(ctx, job, recovery.PhaseApply)
}

// safety takes the pre-restore snapshot of an in-place restore: the point
// a rollback returns to.
func (s *Service) safety(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	if job.SafetyID == "" {
		job.SafetyID = recovery.NewSnapshotID()
		return s.d.Catalog.SaveJob(ctx, job, nil, nil)
	}
	rec, err := s.d.Catalog.GetTenant(ctx, job.TenantID)
	if err != nil {
		return job, err
	}
	if _, err := s.TakeSnapshot(ctx, rec, job.SafetyID, recovery.TriggerPreRestore); err != nil {
		return job, err
	}
	return s.moveTo(ctx, job, recovery.PhaseApply)
}

// partitionsOf are the partitions a restore job puts back: a restore in
// place restores more than a clone copies (store.RestorablePartitions,
// store.ClonedPartitions).
func partitionsOf(job recovery.Job) []string {
	if job.InPlace() {
		return store.RestorablePartitions
	}
	return store.ClonedPartitions
}

// desired computes the items the restored tenant dst must hold: the newest
// snapshot of src completed by the target time, with src's change log
// replayed onto it up to that time, as items of dst.
func (s *Service) desired(ctx context.Context, job recovery.Job, src, dst catalog.Record) (Items, recovery.Job, error) {
	snap, err := s.snapshotBefore(ctx, src, job.To)
	if errors.Is(err, recovery.ErrNoSnapshot) {
		return nil, job, permanent("%v", err)
	}
	if err != nil {
		return nil, job, err
	}
	items, err := s.ReadSnapshot(ctx, snap)
	if err != nil {
		return nil, job, permanent("%v", err)
	}
	keep := partitionsOf(job)
	items.keepOnly(src.TenantID, keep)
	changes, err := s.Changes(ctx, src.TenantID, snap.FeedFrom, job.To)
	if err != nil {
		return nil, job, err
	}
	jobs, err := s.d.Catalog.ListJobs(ctx, src.TenantID)
	if err != nil {
		return nil, job, err
	}
	changes = ofPlacement(changes, Stays(jobs, src.Placement.Table))
	n, err := Replay(items, src.TenantID, keep, changes)
	if err != nil {
		return nil, job, permanent("%v", err)
	}
	job.SnapshotID, job.Changes = snap.ID, int64(n)
	if job.InPlace() {
		return items, job, nil
	}
	return s.rekey(ctx, src, dst, items, job)
}

// rekey turns the source tenant's items into the clone's (store.Rekey).
func (s *Service) rekey(ctx context.Context, src, dst catalog.Record, items Items, job recovery.Job) (Items, recovery.Job, error) {
	from, err := scopeOf(src)
	if err != nil {
		return nil, job, err
	}
	to, err := scopeOf(dst)
	if err != nil {
		return nil, job, err
	}
	out := make(Items, len(items))
	for _, it := range items {
		nit, err := s.d.Data.Rekey(ctx, s.d.Data.For(from), s.d.Data.For(to), it)
		if err != nil {
			return nil, job, err
		}
		if err := out.Put(nit); err != nil {
			return nil, job, err
		}
	}
	return out, job, nil
}

// apply makes the target tenant's items exactly the desired ones and checks
// it, up to MaxVerifyRounds times.
func (s *Service) apply(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	dst, err := s.target(ctx, job)
	if err != nil {
		return job, err
	}
	src := dst
	if !job.InPlace() {
		if src, err = s.d.Catalog.GetTenant(ctx, job.TenantID); err != nil {
			return job, err
		}
	}
	want, job, err := s.desired(ctx, job, src, dst)
	if err != nil {
		return job, err
	}
	job, err = s.converge(ctx, job, dst, want, partitionsOf(job))
	if err != nil {
		return job, err
	}
	job.Phase = recovery.PhaseDone
	return s.d.Catalog.SaveJob(ctx, job, nil, nil)
}

// converge writes the difference between the tenant's items (in keep) and
// want, then reads them again and compares checksums; it repeats while they
// differ, up to MaxVerifyRounds.
func (s *Service) converge(ctx context.Context, job recovery.Job, dst catalog.Record, want Items, keep []string) (recovery.Job, error) {
	sc, err := scopeOf(dst)
	if err != nil {
		return job, err
	}
	data := s.d.Data.For(sc)
	wantSum := want.Summarize(dst.TenantID)
	job.Items = wantSum.Items
	for round := 1; ; round++ {
		have, err := s.read(ctx, data, keep)
		if err != nil {
			return job, err
		}
		if have.Summarize(dst.TenantID).Checksum == wantSum.Checksum {
			return job, nil
		}
		if round > MaxVerifyRounds {
			return job, permanent("tenant %s: items still differ from the restore's after %d rounds", dst.TenantID, MaxVerifyRounds)
		}
		if job.Phase != recovery.PhaseRollback {
			job.Phase = recovery.PhaseApply
		}
		if job, err = s.write(ctx, job, data, have, want); err != nil {
			return job, err
		}
		if job.Phase != recovery.PhaseRollback {
			job.Phase = recovery.PhaseVerify
		}
		if job, err = s.d.Catalog.SaveJob(ctx, job, nil, nil); err != nil {
			return job, err
		}
	}
}

func (s *Service) read(ctx context.Context, data store.TenantData, keep []string) (Items, error) {
	have := Items{}
	err := data.ScanPartitions(ctx, keep, func(_ string, items []store.Item) error {
		for _, it := range items {
			if err := have.Put(it); err != nil {
				return err
			}
		}
		return nil
	})
	return have, err
}

// progressEvery is how many written items apart a restore saves its
// progress.
const progressEvery = 500

// writers is how many batches of one chunk are written at once.
const writers = 4

// writeParallel writes puts and deletes in up to writers concurrent
// slices (each store.WriteItems batches them by 25).
func writeParallel(ctx context.Context, data store.TenantData, puts, dels []store.Item) error {
	split := func(items []store.Item) [][]store.Item {
		size := max(25, (len(items)+writers-1)/writers)
		var out [][]store.Item
		for start := 0; start < len(items); start += size {
			out = append(out, items[start:min(start+size, len(items))])
		}
		return out
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	run := func(p, d []store.Item) {
		defer wg.Done()
		if err := data.WriteItems(ctx, p, d); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	for _, p := range split(puts) {
		wg.Add(1)
		go run(p, nil)
	}
	for _, d := range split(dels) {
		wg.Add(1)
		go run(nil, d)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// write puts the items of want that have differs from and deletes the ones
// want does not have, saving progress as it goes.
func (s *Service) write(ctx context.Context, job recovery.Job, data store.TenantData, have, want Items) (recovery.Job, error) {
	var puts, dels []store.Item
	for k, it := range want {
		if cur, ok := have[k]; !ok || Digest(cur) != Digest(it) {
			puts = append(puts, it)
		}
	}
	for k, it := range have {
		if _, ok := want[k]; !ok {
			dels = append(dels, store.KeyOf(it))
		}
	}
	job.ItemsDone = int64(len(want) - len(puts))
	flush := func(p, d []store.Item) (recovery.Job, error) {
		if err := writeParallel(ctx, data, p, d); err != nil {
			return job, err
		}
		job.Written += int64(len(p))
		job.Deleted += int64(len(d))
		job.ItemsDone += int64(len(p))
		return s.d.Catalog.SaveJob(ctx, job, nil, nil)
	}
	var err error
	for start := 0; start < len(puts); start += progressEvery {
		if job, err = flush(puts[start:min(start+progressEvery, len(puts))], nil); err != nil {
			return job, err
		}
	}
	for start := 0; start < len(dels); start += progressEvery {
		if job, err = flush(nil, dels[start:min(start+progressEvery, len(dels))]); err != nil {
			return job, err
		}
	}
	return job, nil
}

// finish makes the restored tenant active again and ends the job, with its
// event and audit entry.
func (s *Service) finish(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	dst, err := s.target(ctx, job)
	if err != nil {
		return job, err
	}
	detail := fmt.Sprintf("restored to %s from snapshot %s and %d changes: %d items (%d written, %d deleted) (job %s)",
		job.To.Format(time.RFC3339Nano), job.SnapshotID, job.Changes, job.Items, job.Written, job.Deleted, job.ID)
	if err := s.activate(ctx, job, dst, bus.TenantRestored, "", &store.AuditEntry{Action: "restored", Actor: job.Actor, Detail: detail}); err != nil {
		return job, err
	}
	job.State = recovery.StateSucceeded
	return s.d.Catalog.SaveJob(ctx, job, nil, nil)
}

// activate turns dst from RESTORING back to ACTIVE, announcing the end of
// the job on the source tenant. A tenant already ACTIVE (a resumed run) is
// left so.
func (s *Service) activate(ctx context.Context, job recovery.Job, dst catalog.Record, dt bus.DetailType, reason string, audit *store.AuditEntry) error {
	if dst.Status != catalog.StatusRestoring {
		return nil
	}
	src := dst
	if !job.InPlace() {
		var err error
		if src, err = s.d.Catalog.GetTenant(ctx, job.TenantID); err != nil {
			return err
		}
	}
	ev, err := outbox.Event(dt, bus.Detail{TenantID: src.TenantID, Tier: string(src.Tier), CorrelationID: job.ID, JobID: job.ID, Reason: reason})
	if err != nil {
		return err
	}
	_, err = s.d.Catalog.Apply(ctx, dst.TenantID, store.Change{From: []catalog.Status{catalog.StatusRestoring}, To: catalog.StatusActive, ClearReason: true}, ev, audit)
	if errors.Is(err, store.ErrStatusChanged) {
		return nil
	}
	if err != nil {
		return err
	}
	if s.d.Pub != nil {
		s.d.Pub.PublishOrKeep(ctx, ev)
	}
	return nil
}

// abort ends a job that cannot go on. A backup fails. A restore that has
// not written yet fails and its tenant is active again; one that has
// begun writing rolls back to its pre-restore snapshot. A clone that has
// begun filling is suspended, so it is never active half restored.
func (s *Service) abort(ctx context.Context, job recovery.Job, cause error) (recovery.Job, error) {
	reason := strings.TrimPrefix(cause.Error(), errPermanent.Error()+": ")
	if len(reason) > 900 {
		reason = reason[:900]
	}
	if job.Kind == recovery.KindMigration {
		return s.abortMigration(ctx, job, reason)
	}
	job.Reason = reason
	if job.Kind == recovery.KindBackup {
		job.State = recovery.StateFailed
		return s.d.Catalog.SaveJob(ctx, job, nil, &store.AuditEntry{Action: "backup-failed", Actor: job.Actor, Detail: reason + " (job " + job.ID + ")"})
	}
	wrote := job.Phase == recovery.PhaseApply || job.Phase == recovery.PhaseVerify || job.Phase == recovery.PhaseDone
	if job.InPlace() && wrote {
		job.Phase, job.Attempts = recovery.PhaseRollback, 0
		return s.d.Catalog.SaveJob(ctx, job, nil, nil)
	}
	if job.Phase == recovery.PhaseRollback {
		// The rollback itself cannot finish: leave the tenant read-only,
		// which is safe, for an operator.
		job.State = recovery.StateFailed
		job.Reason = "rollback failed, tenant left read-only: " + reason
		return s.d.Catalog.SaveJob(ctx, job, nil, &store.AuditEntry{Action: "restore-failed", Actor: job.Actor, Detail: job.Reason + " (job " + job.ID + ")"})
	}
	if job.IntoTenant != "" || job.InPlace() {
		dst, err := s.target(ctx, job)
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return job, err
		}
		if err == nil && !job.InPlace() && dst.Status == catalog.StatusRestoring {
			if _, err := s.d.Catalog.Apply(ctx, dst.TenantID, store.Change{From: []catalog.Status{catalog.StatusRestoring}, To: catalog.StatusSuspended,
				Reason: "restore " + job.ID + " failed"}, nil, nil); err != nil && !errors.Is(err, store.ErrStatusChanged) {
				return job, err
			}
		} else if err == nil {
			if err := s.activate(ctx, job, dst, bus.TenantRestoreFailed, reason, nil); err != nil {
				return job, err
			}
		}
	}
	job.State = recovery.StateFailed
	return s.d.Catalog.SaveJob(ctx, job, nil, &store.AuditEntry{Action: "restore-failed", Actor: job.Actor, Detail: reason + " (job " + job.ID + ")"})
}

// rollback puts the pre-restore snapshot's items back and makes the tenant
// active again.
func (s *Service) rollback(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	dst, err := s.target(ctx, job)
	if err != nil {
		return job, err
	}
	safety, err := s.manifest(ctx, job.TenantID, job.SafetyID)
	if err != nil {
		return job, err
	}
	want, err := s.ReadSnapshot(ctx, safety)
	if err != nil {
		return job, err
	}
	want.keepOnly(job.TenantID, store.RestorablePartitions)
	if job, err = s.converge(ctx, job, dst, want, store.RestorablePartitions); err != nil {
		return job, err
	}
	if err := s.activate(ctx, job, dst, bus.TenantRestoreFailed, job.Reason, &store.AuditEntry{Action: "restore-rolled-back", Actor: job.Actor,
		Detail: "items put back as they were before the restore: " + job.Reason + " (job " + job.ID + ")"}); err != nil {
		return job, err
	}
	job.State = recovery.StateRolledBack
	return s.d.Catalog.SaveJob(ctx, job, nil, nil)
}

func markerKey(pk, sk string) store.Item {
	return store.Item{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}
}
