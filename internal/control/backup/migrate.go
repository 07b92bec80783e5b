package backup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/changefeed"
	"github.com/tessera-saas/tessera/internal/control/outbox"
	"github.com/tessera-saas/tessera/internal/control/tenantstack"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// A tier migration moves one tenant's items between the pooled table and a
// dedicated table of its own, online, with the machinery of restores: the
// tenant's scoped credentials, Items and their checksums, the change log
// and its marker. In order (recovery.Phase):
//
//	queued    the tenant becomes MIGRATING: its writes now check the fence
//	prepare   the target table exists (a TenantStack) and holds none of the tenant's items
//	copy      every item of the tenant is copied from the source to the target
//	catch-up  the change log since before the copy is applied to the target, again and
//	          again, until no process can still hold the record from before MIGRATING
//	fence     the source's fence is set: a write there fails from now on (store.SetFence)
//	drain     a marker proves the change feed has logged every change of the source
//	final     the last changes are applied
//	verify    both sides are read: item counts and checksums per partition must agree
//	cutover   the catalog points at the target; the tenant is ACTIVE
//
// Writes fail (503 tenant_migrating, or a retry against the new placement
// once the record says so) only from fence to cutover. A verification that
// fails rolls back: the fence is lifted, the tenant is ACTIVE on its source
// with the reason recorded, and the partial copy is removed. After a
// cutover the source keeps its copy, fenced, for Deps.Grace; then
// CleanupOldCopies deletes it (audited).

// DedicatedTables makes and removes tenants' dedicated tables
// (provision.Tables: the TenantStack).
type DedicatedTables interface {
	// Ensure creates rec's dedicated table unless it exists and returns
	// its name; while it is being created the error wraps ErrWaiting.
	Ensure(ctx context.Context, rec catalog.Record) (string, error)
	// Delete deletes the tenant's dedicated table; while the deletion runs
	// the error wraps ErrWaiting.
	Delete(ctx context.Context, tenantID string) error
}

// Defaults of migrations.
const (
	// DefaultGrace is how long a migrated tenant's old copy is kept.
	DefaultGrace = 24 * time.Hour
	// DefaultRequestBound is how long a request may go on writing with the
	// tenant record it read when it began (the API function's timeout).
	DefaultRequestBound = 30 * time.Second
)

// ErrNoMigration: the tenant's placement already fits its tier.
var ErrNoMigration = errors.New("backup: the tenant's placement already fits its tier")

// Dedicated reports whether tier t has a table of its own (premium).
func Dedicated(t catalog.Tier) bool { return t == catalog.TierPremium }

// Migrate starts the tier migration rec's tier asks for, or resumes the
// one that runs, and advances it (as Run). It returns ErrNoMigration when
// the tenant's placement already fits its tier, ErrNotActive when the
// tenant is neither ACTIVE nor MIGRATING, and ErrBusy while another job of
// the tenant runs.
func (s *Service) Migrate(ctx context.Context, tenantID, actor, correlationID string) (recovery.Job, error) {
	job, err := s.RequestMigration(ctx, tenantID, actor)
	if err != nil {
		return job, err
	}
	err = s.Run(ctx, tenantID, job.ID)
	job, gerr := s.d.Catalog.GetJob(ctx, tenantID, job.ID)
	if gerr != nil {
		return job, errors.Join(err, gerr)
	}
	return job, err
}

// RequestMigration returns the tenant's migration job that has not ended,
// or records a new one when its placement does not fit its tier (errors as
// Migrate's). It does not run it.
func (s *Service) RequestMigration(ctx context.Context, tenantID, actor string) (recovery.Job, error) {
	rec, err := s.d.Catalog.GetTenant(ctx, tenantID)
	if err != nil {
		return recovery.Job{}, err
	}
	if rec.Status == catalog.StatusMigrating && rec.Migration != nil {
		return s.d.Catalog.GetJob(ctx, tenantID, rec.Migration.JobID)
	}
	jobs, err := s.d.Catalog.RecentJobs(ctx, tenantID, recentJobs)
	if err != nil {
		return recovery.Job{}, err
	}
	for _, j := range jobs {
		if !j.State.Done() && j.Kind == recovery.KindMigration {
			return j, nil // recorded, not yet begun
		}
	}
	if rec.Status != catalog.StatusActive {
		return recovery.Job{}, fmt.Errorf("migrate tenant %s (%s): %w", tenantID, rec.Status, ErrNotActive)
	}
	if Dedicated(rec.Tier) == rec.Placement.Dedicated {
		return recovery.Job{}, ErrNoMigration
	}
	if s.d.Tables == nil && Dedicated(rec.Tier) {
		return recovery.Job{}, fmt.Errorf("migrate tenant %s: %w", tenantID, ErrNotConfigured)
	}
	if err := s.idle(ctx, tenantID, ""); err != nil {
		return recovery.Job{}, err
	}
	now := s.d.Now().UTC()
	job := recovery.Job{ID: recovery.NewJobID(), TenantID: tenantID, Kind: recovery.KindMigration, State: recovery.StateQueued,
		Phase: recovery.PhaseQueued, Actor: actor, ToDedicated: Dedicated(rec.Tier), FromTable: rec.Placement.Table,
		CreatedAt: now, UpdatedAt: now, Version: 1}
	detail := fmt.Sprintf("tier %s: move from %s to a %s table (job %s)", rec.Tier, rec.Placement.Table, placementWord(job.ToDedicated), job.ID)
	if err := s.d.Catalog.CreateJob(ctx, job, nil, &store.AuditEntry{Action: "migration-requested", Actor: actor, Detail: detail}); err != nil {
		return recovery.Job{}, err
	}
	return job, nil
}

// ErrNotConfigured: the deployment lacks what the job needs (no
// DedicatedTables for a migration to a dedicated table).
var ErrNotConfigured = errors.New("backup: not configured")

func placementWord(dedicated bool) string {
	if dedicated {
		return "dedicated"
	}
	return "pooled"
}

// migrationStep runs a migration job's current phase.
func (s *Service) migrationStep(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	switch job.Phase {
	case recovery.PhaseQueued:
		return s.startMigration(ctx, job)
	case recovery.PhasePrepare:
		return s.prepare(ctx, job)
	case recovery.PhaseCopy:
		return s.copyItems(ctx, job)
	case recovery.PhaseCatchUp:
		return s.catchUp(ctx, job)
	case recovery.PhaseFence:
		return s.fenceSource(ctx, job)
	case recovery.PhaseDrain:
		return s.drain(ctx, job)
	case recovery.PhaseFinal:
		return s.finalChanges(ctx, job)
	case recovery.PhaseVerify:
		return s.verifyCopy(ctx, job)
	case recovery.PhaseCutover:
		return s.cutover(ctx, job)
	case recovery.PhaseRollback:
		return s.migrationRollback(ctx, job)
	}
	return job, permanent("unknown phase %q", job.Phase)
}

// progress saves the job and shows its phase and counts on the tenant's
// record (catalog.Record.Migration).
func (s *Service) progress(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	job, err := s.d.Catalog.SaveJob(ctx, job, nil, nil)
	if err != nil {
		return job, err
	}
	rec, err := s.d.Catalog.GetTenant(ctx, job.TenantID)
	if err != nil {
		return job, err
	}
	if rec.Status != catalog.StatusMigrating || rec.Migration == nil || rec.Migration.JobID != job.ID {
		return job, nil
	}
	m := *rec.Migration
	m.Phase, m.Copied, m.Verified = string(job.Phase), copied(job), job.Verified
	if _, err := s.d.Catalog.Apply(ctx, job.TenantID, store.Change{From: []catalog.Status{catalog.StatusMigrating}, Migration: &m}, nil, nil); err != nil &&
		!errors.Is(err, store.ErrStatusChanged) {
		return job, err
	}
	return job, nil
}

// copied is how many items the migration's copy has written: so far while
// it runs, in all once it is done.
func copied(job recovery.Job) int64 {
	if job.Written > 0 {
		return job.Written
	}
	return job.ItemsDone
}

func (s *Service) advance(ctx context.Context, job recovery.Job, p recovery.Phase) (recovery.Job, error) {
	job.Phase, job.Attempts = p, 0
	if !job.FencedAt.IsZero() {
		// While the tenant's writes wait, nothing but the job: the
		// record shows the end at the cutover.
		return s.d.Catalog.SaveJob(ctx, job, nil, nil)
	}
	return s.progress(ctx, job)
}

// startMigration makes the tenant MIGRATING: from now on every process
// that reads its record checks the fence on each write.
func (s *Service) startMigration(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	rec, err := s.d.Catalog.GetTenant(ctx, job.TenantID)
	if err != nil {
		return job, err
	}
	now := s.d.Now().UTC()
	if rec.Status != catalog.StatusMigrating || rec.Migration == nil || rec.Migration.JobID != job.ID {
		if rec.Status != catalog.StatusActive {
			return job, permanent("tenant %s is %s", rec.TenantID, rec.Status)
		}
		if rec.Placement.Table != job.FromTable {
			return job, permanent("tenant %s moved to %s since the migration was requested", rec.TenantID, rec.Placement.Table)
		}
		m := &catalog.Migration{JobID: job.ID, ToDedicated: job.ToDedicated, Phase: string(recovery.PhasePrepare), StartedAt: now}
		if rec.Migration != nil && rec.Migration.OldPlacement != nil && !rec.Migration.OldCopyDeleted {
			// The old copy of an earlier migration is kept until it is
			// deleted (prepare purges it where it is the new target).
			m.OldPlacement, m.DeleteAfter = rec.Migration.OldPlacement, rec.Migration.DeleteAfter
		}
		_, err := s.d.Catalog.Apply(ctx, rec.TenantID, store.Change{From: []catalog.Status{catalog.StatusActive}, To: catalog.StatusMigrating, Migration: m}, nil,
			&store.AuditEntry{Action: "migration-started", Actor: job.Actor, Detail: fmt.Sprintf("moving to a %s table (job %s)", placementWord(job.ToDedicated), job.ID)})
		if errors.Is(err, store.ErrStatusChanged) {
			return job, permanent("tenant %s changed state before the migration began", rec.TenantID)
		}
		if err != nil {
			return job, err
		}
	}
	job.State, job.MigratingAt, job.FeedFrom = recovery.StateRunning, now, now.Add(-FeedSkew)
	return s.advance(ctx, job, recovery.PhasePrepare)
}

// scopeAt is the scope of rec's tenant on the table of one side of a
// migration. Raw reads and writes (ScanPartitions, WriteItems) never check
// the fence.
func scopeAt(rec catalog.Record, table string, dedicated bool) (catalog.Scope, error) {
	rec.Placement.Table, rec.Placement.Dedicated, rec.Status = table, dedicated, catalog.StatusActive
	return scopeOf(rec)
}

func (s *Service) sides(ctx context.Context, job recovery.Job) (src, dst store.TenantData, rec catalog.Record, err error) {
	if rec, err = s.d.Catalog.GetTenant(ctx, job.TenantID); err != nil {
		return
	}
	from, err := scopeAt(rec, job.FromTable, !job.ToDedicated)
	if err != nil {
		return
	}
	to, err := scopeAt(rec, job.ToTable, job.ToDedicated)
	if err != nil {
		return
	}
	return s.d.Data.For(from), s.d.Data.For(to), rec, nil
}

// prepare finds or makes the target table and empties the tenant's part of
// it: what an earlier, interrupted copy wrote, or the old copy of an
// earlier migration the other way.
func (s *Service) prepare(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	rec, err := s.d.Catalog.GetTenant(ctx, job.TenantID)
	if err != nil {
		return job, err
	}
	if job.ToTable == "" {
		table := s.d.PooledTable
		if job.ToDedicated {
			if s.d.Tables == nil {
				return job, permanent("no dedicated tables are configured")
			}
			if table, err = s.d.Tables.Ensure(ctx, rec); err != nil {
				return job, err
			}
		}
		if table == "" {
			return job, permanent("no pooled table is configured")
		}
		if table == job.FromTable {
			return job, permanent("the target table is the source table %s", table)
		}
		job.ToTable = table
		return s.d.Catalog.SaveJob(ctx, job, nil, nil)
	}
	_, dst, _, err := s.sides(ctx, job)
	if err != nil {
		return job, err
	}
	n, err := dst.PurgeTenant(ctx)
	if err != nil {
		return job, err
	}
	if old := rec.Migration; n > 0 && old != nil && old.OldPlacement != nil && old.OldPlacement.Table == job.ToTable && !old.OldCopyDeleted {
		m := *old
		m.OldPlacement, m.DeleteAfter = nil, time.Time{}
		if _, err := s.d.Catalog.Apply(ctx, job.TenantID, store.Change{From: []catalog.Status{catalog.StatusMigrating}, Migration: &m}, nil,
			&store.AuditEntry{Action: "old-copy-deleted", Actor: job.Actor, Detail: fmt.Sprintf("%d items of the earlier placement %s, before moving back to it (job %s)", n, job.ToTable, job.ID)}); err != nil {
			return job, err
		}
	}
	return s.advance(ctx, job, recovery.PhaseCopy)
}

// copyItems copies every item of the tenant from the source to the target,
// saving its count as it goes. Run again, it copies again: the copy is
// idempotent, and the change log replayed afterwards starts before the
// first copy began.
func (s *Service) copyItems(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	src, dst, _, err := s.sides(ctx, job)
	if err != nil {
		return job, err
	}
	var (
		batch []store.Item
		n     int64
	)
	flush := func() error {
		if err := writeParallel(ctx, dst, batch, nil); err != nil {
			return err
		}
		n += int64(len(batch))
		batch = batch[:0]
		job.ItemsDone = n
		var err error
		job, err = s.progress(ctx, job)
		return err
	}
	err = src.ScanPartitions(ctx, store.DataPartitions, func(_ string, items []store.Item) error {
		for _, it := range items {
			if store.BindsTable(it) {
				return permanent("item %v holds a field sealed in the format that binds the table %s (written before format 2): it would not open after the move; "+
					"re-seal the tenant's orders before migrating it", it["sk"], job.FromTable)
			}
		}
		batch = append(batch, items...)
		if len(batch) >= progressEvery {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	if err != nil {
		return job, err
	}
	job.Items, job.ItemsDone, job.Written = n, n, n
	return s.advance(ctx, job, recovery.PhaseCatchUp)
}

// catchUpEvery is how often the catch-up applies the change log again
// while it waits for the catalog caches.
const catchUpEvery = 2 * time.Second

// catchUp applies the change log to the target while the tenant writes,
// until every record cached before the tenant became MIGRATING has expired
// and every request that read one has ended: only then does every write
// check the fence, so only then may the fence go up.
func (s *Service) catchUp(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	now := s.d.Now().UTC()
	if job.CaughtUpTo.IsZero() || now.Sub(job.CaughtUpTo) >= catchUpEvery {
		var err error
		if job, err = s.applyChanges(ctx, job); err != nil {
			return job, err
		}
		if job, err = s.progress(ctx, job); err != nil {
			return job, err
		}
	}
	if wait := job.MigratingAt.Add(s.d.CatalogTTL + s.d.RequestBound).Sub(s.d.Now()); wait > 0 {
		return job, fmt.Errorf("%w: records cached before the migration began may be used for %s more", ErrWaiting, wait.Round(time.Millisecond))
	}
	if err := s.preVerify(ctx, job); err != nil {
		return job, err
	}
	// What the tenant wrote during the pre-verification, applied now,
	// need not be after the fence.
	job, err := s.applyChanges(ctx, job)
	if err != nil {
		return job, err
	}
	return s.advance(ctx, job, recovery.PhaseFence)
}

// baseline is what a migration's pre-verification read of both sides, in
// this process: the digests of each side's items, when the read began, and
// the keys that differed then (changes in flight, or a damaged copy). The
// verification after the fence reads again only those keys and the ones
// changed since: the rest cannot have changed on either side (the source's
// changes are all in the change log; only the migration writes the
// target, and only keys from the log).
type baseline struct {
	at       time.Time
	src, dst digests
	differ   map[itemKey]bool
}

// preVerify reads both sides in full while the tenant still writes and
// keeps the result for the verification (s.baselines). Lost with the
// process, the verification then reads both sides in full, with writes
// refused.
func (s *Service) preVerify(ctx context.Context, job recovery.Job) error {
	at := s.d.Now().UTC()
	src, dst, err := s.readSides(ctx, job)
	if err != nil {
		return err
	}
	b := &baseline{at: at, src: src.digests(), dst: dst.digests(), differ: map[itemKey]bool{}}
	for k, d := range b.src {
		if b.dst[k] != d {
			b.differ[k] = true
		}
	}
	for k := range b.dst {
		if _, ok := b.src[k]; !ok {
			b.differ[k] = true
		}
	}
	s.baselines.Store(job.ID, b)
	s.d.Log.InfoContext(ctx, "migration pre-verified", "tenantId", job.TenantID, "jobId", job.ID, "items", len(b.src), "differing", len(b.differ))
	return nil
}

// readSides reads the tenant's items on both sides of the migration at
// once.
func (s *Service) readSides(ctx context.Context, job recovery.Job) (src, dst Items, err error) {
	from, to, _, err := s.sides(ctx, job)
	if err != nil {
		return nil, nil, err
	}
	var (
		wg         sync.WaitGroup
		serr, derr error
	)
	wg.Add(2)
	go func() { defer wg.Done(); src, serr = s.read(ctx, from, store.DataPartitions) }()
	go func() { defer wg.Done(); dst, derr = s.read(ctx, to, store.DataPartitions) }()
	wg.Wait()
	return src, dst, errors.Join(serr, derr)
}

// applyChanges applies to the target the source's changes logged in
// objects written since the last catch-up (less a margin for clocks), each
// key's last change winning, and records how far it got.
func (s *Service) applyChanges(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	now := s.d.Now().UTC()
	since := job.FeedFrom
	if !job.CaughtUpTo.IsZero() {
		since = job.CaughtUpTo.Add(-markerSkew)
	}
	var changes []changefeed.Change
	err := s.changeObjects(ctx, job.TenantID, job.FeedFrom, now.Add(time.Hour), since, func(cs []changefeed.Change) bool {
		for _, c := range cs {
			// Only the source's: the target's stream logs the copy's own
			// writes, with values that may be older than the source's.
			if c.Table == job.FromTable && !c.Time.Before(job.FeedFrom) {
				changes = append(changes, c)
			}
		}
		return false
	})
	if err != nil {
		return job, err
	}
	puts, dels, err := Net(job.TenantID, store.DataPartitions, inOrder(changefeed.Dedupe(changes)))
	if err != nil {
		return job, permanent("%v", err)
	}
	_, dst, _, err := s.sides(ctx, job)
	if err != nil {
		return job, err
	}
	if err := writeParallel(ctx, dst, puts, dels); err != nil {
		return job, err
	}
	job.Changes += int64(len(puts) + len(dels))
	job.CaughtUpTo = now
	return job, nil
}

// Net is the net effect of changes (in order) on the tenant's partitions
// in keep: for each key changed, its last new image, or its deletion.
func Net(tenantID string, keep []string, changes []changefeed.Change) (puts, dels []store.Item, err error) {
	last := Items{}
	if _, err := Replay(last, tenantID, keep, changes); err != nil {
		return nil, nil, err
	}
	removed := Items{}
	for _, c := range changes {
		k, err := FromStream(c.Keys)
		if err != nil {
			return nil, nil, err
		}
		if ik, ok := keyOf(k); ok {
			if _, there := last[ik]; !there {
				if entity, mine := store.PartitionOf(tenantID, k); mine && slices.Contains(keep, entity) {
					removed[ik] = store.KeyOf(k)
				}
			}
		}
	}
	for _, it := range last {
		puts = append(puts, it)
	}
	for _, k := range removed {
		dels = append(dels, k)
	}
	return puts, dels, nil
}

// fenceSource sets the fence on the source placement: a write that reaches
// it from now on fails, and nothing the tenant writes there can be lost.
func (s *Service) fenceSource(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	src, _, _, err := s.sides(ctx, job)
	if err != nil {
		return job, err
	}
	if err := src.SetFence(ctx, store.FenceMigrating, job.ID); err != nil {
		return job, err
	}
	job.FencedAt = s.d.Now().UTC()
	return s.advance(ctx, job, recovery.PhaseDrain)
}

// finalChanges applies the changes logged up to the drain's marker.
func (s *Service) finalChanges(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	job, err := s.applyChanges(ctx, job)
	if err != nil {
		return job, err
	}
	return s.advance(ctx, job, recovery.PhaseVerify)
}

// verifyCopy compares both sides partition by partition: item counts and
// checksums must be equal. With the pre-verification's baseline it reads
// only the keys that differed then or changed since; without (another
// process ran it), both sides in full.
func (s *Service) verifyCopy(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	var src, dst digests
	if v, ok := s.baselines.LoadAndDelete(job.ID); ok {
		b := v.(*baseline)
		var err error
		if src, dst, err = s.reverify(ctx, job, b); err != nil {
			return job, err
		}
	} else {
		srcItems, dstItems, err := s.readSides(ctx, job)
		if err != nil {
			return job, err
		}
		src, dst = srcItems.digests(), dstItems.digests()
	}
	ws, hs := src.summarize(job.TenantID), dst.summarize(job.TenantID)
	if diff := summaryDiff(ws, hs); diff != "" {
		return job, permanent("verification failed: %s", diff)
	}
	job.Items, job.ItemsDone, job.Verified = ws.Items, hs.Items, hs.Items
	return s.advance(ctx, job, recovery.PhaseCutover)
}

// reverify brings the baseline's digests up to date: it reads on both
// sides the keys that differed at the pre-verification and those of the
// source's changes logged since it began (less the clock margin).
func (s *Service) reverify(ctx context.Context, job recovery.Job, b *baseline) (src, dst digests, err error) {
	keys := map[itemKey]store.Item{}
	for k := range b.differ {
		keys[k] = store.Item{"pk": &types.AttributeValueMemberS{Value: k.pk}, "sk": &types.AttributeValueMemberS{Value: k.sk}}
	}
	err = s.changeObjects(ctx, job.TenantID, b.at.Add(-FeedSkew), s.d.Now().Add(time.Hour), b.at.Add(-markerSkew), func(cs []changefeed.Change) bool {
		for _, c := range cs {
			if c.Table != job.FromTable {
				continue
			}
			k, ferr := FromStream(c.Keys)
			if ferr != nil {
				err = ferr
				return true
			}
			if entity, mine := store.PartitionOf(job.TenantID, k); mine && slices.Contains(store.DataPartitions, entity) {
				if ik, ok := keyOf(k); ok {
					keys[ik] = store.KeyOf(k)
				}
			}
		}
		return false
	})
	if err != nil {
		return nil, nil, err
	}
	list := make([]store.Item, 0, len(keys))
	for _, k := range keys {
		list = append(list, k)
	}
	from, to, _, err := s.sides(ctx, job)
	if err != nil {
		return nil, nil, err
	}
	for _, side := range []struct {
		data store.TenantData
		ds   digests
	}{{from, b.src}, {to, b.dst}} {
		got, err := side.data.GetItems(ctx, list)
		if err != nil {
			return nil, nil, err
		}
		for k := range keys {
			delete(side.ds, k)
		}
		for _, it := range got {
			if k, ok := keyOf(it); ok {
				side.ds[k] = Digest(it)
			}
		}
	}
	s.d.Log.InfoContext(ctx, "migration verified again", "tenantId", job.TenantID, "jobId", job.ID, "keysRead", len(list))
	return b.src, b.dst, nil
}

// summaryDiff describes how the target's summary differs from the
// source's, or is empty when they agree.
func summaryDiff(src, dst Summary) string {
	var out []string
	for _, p := range store.DataPartitions {
		a, b := src.Partitions[p], dst.Partitions[p]
		if a != b {
			out = append(out, fmt.Sprintf("partition %s: source %d items (checksum %.12s), target %d items (checksum %.12s)", p, a.Items, a.Checksum, b.Items, b.Checksum))
		}
	}
	if len(out) == 0 && src.Checksum != dst.Checksum {
		out = append(out, "checksums differ")
	}
	return strings.Join(out, "; ")
}

// cutover points the catalog at the target and makes the tenant ACTIVE,
// with its event and audit entry. The source stays fenced, so a process
// still holding the old placement cannot write there.
func (s *Service) cutover(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	rec, err := s.d.Catalog.GetTenant(ctx, job.TenantID)
	if err != nil {
		return job, err
	}
	now := s.d.Now().UTC()
	if rec.Status == catalog.StatusMigrating {
		old := rec.Placement
		to := rec.Placement
		to.Table, to.Dedicated, to.Template = job.ToTable, job.ToDedicated, ""
		if job.ToDedicated {
			// The stack was made from the checked-in template (Ensure).
			to.Template = tenantstack.Version()
		}
		m := catalog.Migration{JobID: job.ID, ToDedicated: job.ToDedicated, Phase: string(recovery.PhaseDone), Copied: copied(job), Verified: job.Verified,
			EndedAt: now, Outcome: catalog.MigrationMigrated, OldPlacement: &old, DeleteAfter: now.Add(s.d.Grace)}
		if rec.Migration != nil {
			m.StartedAt = rec.Migration.StartedAt
		}
		ev, err := outbox.Event(bus.TenantMigrated, bus.Detail{TenantID: rec.TenantID, Tier: string(rec.Tier), CorrelationID: job.ID, JobID: job.ID, Table: job.ToTable})
		if err != nil {
			return job, err
		}
		detail := fmt.Sprintf("moved %d items from %s to %s; writes refused for %s; old copy kept until %s (job %s)", job.Verified, job.FromTable, job.ToTable,
			now.Sub(job.FencedAt).Round(time.Millisecond), m.DeleteAfter.Format(time.RFC3339), job.ID)
		_, err = s.d.Catalog.Apply(ctx, rec.TenantID, store.Change{From: []catalog.Status{catalog.StatusMigrating}, To: catalog.StatusActive, Placement: &to, Migration: &m}, ev,
			&store.AuditEntry{Action: "migrated", Actor: job.Actor, Detail: detail})
		if err != nil && !errors.Is(err, store.ErrStatusChanged) {
			return job, err
		}
		if err == nil && s.d.Pub != nil {
			s.d.Pub.PublishOrKeep(ctx, ev)
		}
	}
	job.State, job.Phase = recovery.StateSucceeded, recovery.PhaseDone
	return s.d.Catalog.SaveJob(ctx, job, nil, nil)
}

// abortMigration ends a migration that cannot go on: one that had not
// begun copying fails, with the tenant ACTIVE where it was; one that had
// rolls back.
func (s *Service) abortMigration(ctx context.Context, job recovery.Job, reason string) (recovery.Job, error) {
	job.Reason = reason
	switch job.Phase {
	case recovery.PhaseRollback:
		job.State = recovery.StateFailed
		job.Reason = "rollback failed: " + reason
		return s.d.Catalog.SaveJob(ctx, job, nil, &store.AuditEntry{Action: "migration-failed", Actor: job.Actor, Detail: job.Reason + " (job " + job.ID + ")"})
	case recovery.PhaseCutover, recovery.PhaseDone:
		// Verified: finishing is safer than going back.
		job.State = recovery.StateFailed
		return s.d.Catalog.SaveJob(ctx, job, nil, nil)
	}
	job.Phase, job.Attempts = recovery.PhaseRollback, 0
	return s.d.Catalog.SaveJob(ctx, job, nil, nil)
}

// migrationRollback lifts the source's fence, makes the tenant ACTIVE on
// its source again with the reason recorded, and then removes what the
// migration wrote to the target.
func (s *Service) migrationRollback(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	rec, err := s.d.Catalog.GetTenant(ctx, job.TenantID)
	if err != nil {
		return job, err
	}
	if rec.Status == catalog.StatusMigrating {
		from, err := scopeAt(rec, job.FromTable, !job.ToDedicated)
		if err != nil {
			return job, err
		}
		if err := s.d.Data.For(from).ClearFence(ctx); err != nil {
			return job, err
		}
		m := catalog.Migration{JobID: job.ID, ToDedicated: job.ToDedicated, Phase: string(recovery.PhaseRollback), Copied: copied(job), Verified: job.Verified,
			EndedAt: s.d.Now().UTC(), Outcome: catalog.MigrationFailed, Reason: job.Reason}
		if rec.Migration != nil {
			m.StartedAt, m.OldPlacement, m.DeleteAfter = rec.Migration.StartedAt, rec.Migration.OldPlacement, rec.Migration.DeleteAfter
		}
		ev, err := outbox.Event(bus.TenantMigrationFailed, bus.Detail{TenantID: rec.TenantID, Tier: string(rec.Tier), CorrelationID: job.ID, JobID: job.ID, Reason: job.Reason})
		if err != nil {
			return job, err
		}
		_, err = s.d.Catalog.Apply(ctx, rec.TenantID, store.Change{From: []catalog.Status{catalog.StatusMigrating}, To: catalog.StatusActive, Migration: &m}, ev,
			&store.AuditEntry{Action: "migration-failed", Actor: job.Actor, Detail: "back on " + job.FromTable + ": " + job.Reason + " (job " + job.ID + ")"})
		if err != nil && !errors.Is(err, store.ErrStatusChanged) {
			return job, err
		}
		if err == nil && s.d.Pub != nil {
			s.d.Pub.PublishOrKeep(ctx, ev)
		}
		if rec, err = s.d.Catalog.GetTenant(ctx, job.TenantID); err != nil {
			return job, err
		}
	}
	if job.ToTable != "" && rec.Placement.Table != job.ToTable {
		if err := s.removeCopy(ctx, rec, job.ToTable, job.ToDedicated); err != nil {
			return job, err
		}
	}
	job.State = recovery.StateRolledBack
	return s.d.Catalog.SaveJob(ctx, job, nil, nil)
}

// removeCopy deletes the tenant's copy in a table it does not live in: a
// dedicated table goes with its stack, a pooled copy item by item.
func (s *Service) removeCopy(ctx context.Context, rec catalog.Record, table string, dedicated bool) error {
	if rec.Placement.Table == table {
		return fmt.Errorf("tenant %s lives in %s: its copy there is not removed", rec.TenantID, table)
	}
	if dedicated {
		if s.d.Tables == nil {
			return permanent("no dedicated tables are configured")
		}
		return s.d.Tables.Delete(ctx, rec.TenantID)
	}
	sc, err := scopeAt(rec, table, false)
	if err != nil {
		return err
	}
	_, err = s.d.Data.For(sc).PurgeTenant(ctx)
	return err
}

// CleanupOldCopies deletes the old copies of migrated tenants whose grace
// period has ended, each audited, and returns how many it deleted. A
// dedicated table whose stack is still being deleted is counted at a later
// call.
func (s *Service) CleanupOldCopies(ctx context.Context) (int, error) {
	return s.eachTenant(ctx, func(ctx context.Context, rec catalog.Record) (bool, error) {
		done, err := s.cleanupOne(ctx, rec)
		if err != nil && !errors.Is(err, ErrWaiting) {
			return done, fmt.Errorf("old copy of %s: %w", rec.TenantID, err)
		}
		return done, nil
	})
}

func (s *Service) cleanupOne(ctx context.Context, rec catalog.Record) (bool, error) {
	m := rec.Migration
	if m == nil || m.OldPlacement == nil || m.OldCopyDeleted || rec.Status == catalog.StatusMigrating || s.d.Now().Before(m.DeleteAfter) {
		return false, nil
	}
	old := *m.OldPlacement
	if old.Table == rec.Placement.Table {
		return false, nil // it moved back there
	}
	if err := s.removeCopy(ctx, rec, old.Table, old.Dedicated); err != nil {
		return false, err
	}
	next := *m
	next.OldCopyDeleted = true
	_, err := s.d.Catalog.Apply(ctx, rec.TenantID, store.Change{From: []catalog.Status{rec.Status}, Migration: &next}, nil,
		&store.AuditEntry{Action: "old-copy-deleted", Actor: "schedule", Detail: fmt.Sprintf("the copy in %s, left by migration %s, after its grace period", old.Table, m.JobID)})
	if errors.Is(err, store.ErrStatusChanged) {
		return false, nil // the next tick looks again
	}
	return err == nil, err
}
