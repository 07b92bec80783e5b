package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/tessera-saas/tessera/internal/control/backup"
	"github.com/tessera-saas/tessera/internal/control/provision"
	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/product"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// Tier migration (issue 14): the copy's speed for a tenant of 10,000
// items each way, and, for a smaller tenant migrated back and forth under
// load, how long its writes are refused, whether any read fails, and that
// every acknowledged write survives. On moto, with the stream pump polling
// every pumpEvery as `tessera up` does, the change feed's handler and the
// migrations in process, and dedicated tables made by real TenantStacks on
// the emulator's CloudFormation.

var (
	migrateOnly  = flag.Bool("migrate-only", false, "measure only tier migration, print it, and write it to -migrate-out")
	migrateOut   = flag.String("migrate-out", "bench/migrate.txt", "results file of -migrate-only")
	migrateItems = flag.Int("migrate-items", 10000, "items of the tenant whose copy is timed (half products, half their SKU items)")
)

const (
	// migrateTTL and migrateBound stand for the catalog TTL and the
	// request bound (production: 30 s each): the catch-up waits their sum
	// before the fence goes up, and the writers cache the record migrateTTL.
	migrateTTL   = time.Second
	migrateBound = 500 * time.Millisecond

	windowRounds  = 10
	windowItems   = 500
	windowWriters = 2
	windowReaders = 2
	writeEvery    = 50 * time.Millisecond  // each writer's pace
	readEvery     = 20 * time.Millisecond  // each reader's pace
	retryPause    = 200 * time.Millisecond // after a fenced write, before the record is read again
	windowTarget  = 2 * time.Second
)

// runMigrateOnly is -migrate-only.
func runMigrateOnly() error {
	report, err := migrateReport(context.Background())
	if err != nil {
		return err
	}
	fmt.Print(report)
	if err := os.MkdirAll(filepath.Dir(*migrateOut), 0o755); err != nil {
		return err
	}
	return os.WriteFile(*migrateOut, []byte(report), 0o644)
}

func migrateReport(ctx context.Context) (string, error) {
	b, env, stop, err := startRecoveryBench(ctx)
	defer stop()
	if err != nil {
		return "", err
	}
	cfg, s := env.cfg, env.s
	phases := &phaseLog{warn: slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})}
	b.svc = backup.New(backup.Deps{Catalog: b.cat, Data: b.data, Creds: env.creds, Objects: awsconfig.NewS3(cfg), Bucket: s.BackupBucket,
		Tables: provision.Tables{Stacks: cloudformation.NewFromConfig(cfg), Settings: s}, PooledTable: s.PooledTable,
		CatalogTTL: migrateTTL, RequestBound: migrateBound, Wait: 10 * time.Minute, Log: slog.New(phases)})
	defer b.runFeed(ctx, env)()

	var r strings.Builder
	fmt.Fprintf(&r, "Tier migration (issue 14), %s, %s\n", motoRelease, time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&r, "machine: %s, %d cores; stream pump every %s (as `tessera up`), change feed and migrations in process; dedicated tables are TenantStacks on moto's CloudFormation\n", cpuModel(), runtime.NumCPU(), pumpEvery)
	fmt.Fprintf(&r, "settings: CatalogTTL %s, RequestBound %s (bench values; production 30s and %s): the catch-up waits their sum before it fences the source\n\n",
		migrateTTL, migrateBound, backup.DefaultRequestBound)

	// Copy throughput: a tenant of migrateItems items, no load, to a
	// dedicated table (premium) and back to the pool (basic).
	fmt.Fprintf(os.Stderr, "copy: a tenant of %d items...\n", *migrateItems)
	big, err := b.tenant(ctx, "migrate-large")
	if err != nil {
		return "", err
	}
	if err := b.fill(ctx, big, *migrateItems); err != nil {
		return "", err
	}
	b.settle() // the feed has logged the filling: the copy does not race it
	fmt.Fprintf(&r, "copy of a %d-item tenant, no load:\n", *migrateItems)
	for _, tier := range []catalog.Tier{catalog.TierPremium, catalog.TierBasic} {
		phases.take()
		job, took, err := migrateTo(ctx, b, big.TenantID, tier)
		if err != nil {
			return "", err
		}
		done := phases.take()
		cp, ok := done.of(recovery.PhaseCopy)
		if !ok || cp.items != int64(*migrateItems) {
			return "", fmt.Errorf("migration %s of tenant %s to %s: copy phase %+v, want %d items copied", job.ID, big.TenantID, tier, cp, *migrateItems)
		}
		cut, err := fenceToCutover(ctx, b, job)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&r, "  %-22s copy %d items in %s, %.0f items/s; whole migration %s, fence -> cutover %s (%d changes replayed, %d items verified)\n    phases: %s\n",
			direction(job.ToDedicated)+":", cp.items, cp.took, float64(cp.items)/cp.took.Seconds(), took.Round(time.Millisecond), cut.Round(time.Millisecond), job.Changes, job.Verified, done)
	}
	fmt.Fprintf(&r, "  (copy: items copied / the copy phase's time, from the engine's \"job phase done\" log; whole: from the tier change to the job's end,\n")
	fmt.Fprintf(&r, "   with the catch-up's wait of CatalogTTL + RequestBound; going back, prepare first deletes the old copy left in the pool)\n\n")

	// Write unavailability: windowRounds migrations, alternating, of a
	// windowItems-item tenant with writers and readers.
	fmt.Fprintf(os.Stderr, "write unavailability: %d migrations of a %d-item tenant under load...\n", windowRounds, windowItems)
	small, err := b.tenant(ctx, "migrate-small")
	if err != nil {
		return "", err
	}
	if err := b.fill(ctx, small, windowItems); err != nil {
		return "", err
	}
	b.settle()
	var (
		windows, cutovers []time.Duration
		fencedPhases      = map[recovery.Phase][]time.Duration{}
		acked             = map[string]product.Product{} // every acknowledged write's product, over all rounds
		writes, refused   int
		reads             int
		writeFails        []error
		readFails         []error
		perRound          []string
	)
	for i := range windowRounds {
		tier := catalog.TierPremium
		if i%2 == 1 {
			tier = catalog.TierBasic
		}
		l := startMigrateLoad(ctx, b, small.TenantID, fmt.Sprintf("R%d", i))
		time.Sleep(300 * time.Millisecond)
		phases.take()
		job, _, err := migrateTo(ctx, b, small.TenantID, tier)
		if err != nil {
			l.end()
			return "", err
		}
		time.Sleep(migrateTTL + 500*time.Millisecond) // writers holding the old placement meet its fence
		l.end()
		cut, err := fenceToCutover(ctx, b, job)
		if err != nil {
			return "", err
		}
		windows, cutovers = append(windows, l.longest), append(cutovers, cut)
		for _, p := range phases.take() {
			if p.phase == recovery.PhaseDrain || p.phase == recovery.PhaseFinal || p.phase == recovery.PhaseVerify || p.phase == recovery.PhaseCutover {
				fencedPhases[p.phase] = append(fencedPhases[p.phase], p.took)
			}
		}
		for id, p := range l.acked {
			acked[id] = p
		}
		writes, refused, reads = writes+l.writes, refused+l.refused, reads+l.reads
		writeFails, readFails = append(writeFails, l.failed...), append(readFails, l.readFails...)
		rec, err := b.cat.GetTenant(ctx, small.TenantID)
		if err != nil {
			return "", fmt.Errorf("tenant %s after migration %s: %w", small.TenantID, job.ID, err)
		}
		if err := checkAcked(ctx, b.as(rec), acked, windowItems/2); err != nil {
			return "", fmt.Errorf("after migration %d (%s, job %s): %w", i+1, direction(job.ToDedicated), job.ID, err)
		}
		perRound = append(perRound, fmt.Sprintf("%2d %-20s %4d items  longest write window %-7s fence->cutover %-7s (%d writes, %d refused a while)",
			i+1, direction(job.ToDedicated), job.Verified, l.longest.Round(time.Millisecond), cut.Round(time.Millisecond), l.writes, l.refused))
	}
	fmt.Fprintf(&r, "write unavailability, %d migrations of a tenant of %d items at first (the writers' creations add to it: items verified below), alternating pooled -> dedicated and back, each under load:\n", windowRounds, windowItems)
	fmt.Fprintf(&r, "  %d writers (create (1 in 5) or update a product every %s, record cached %s; after a fenced write, %s pause, record read again, retry), %d readers (list every %s)\n",
		windowWriters, writeEvery, migrateTTL, retryPause, windowReaders, readEvery)
	p50, p100 := pct(windows, 50), pct(windows, 100)
	fmt.Fprintf(&r, "  longest write window per migration: p50 %s  p100 %s  (target < %s: %s)\n", p50.Round(time.Millisecond), p100.Round(time.Millisecond), windowTarget, metWord(p50, p100))
	fmt.Fprintf(&r, "    (window of one write: its first fenced failure -> its success; the longest of each migration; %s retry steps)\n", retryPause)
	fmt.Fprintf(&r, "  engine's fence -> cutover per migration: p50 %s  p100 %s  (the job's FencedAt -> the tenant record's Migration.EndedAt)\n",
		pct(cutovers, 50).Round(time.Millisecond), pct(cutovers, 100).Round(time.Millisecond))
	var fp []string
	for _, p := range []recovery.Phase{recovery.PhaseDrain, recovery.PhaseFinal, recovery.PhaseVerify, recovery.PhaseCutover} {
		if ds := fencedPhases[p]; len(ds) > 0 {
			fp = append(fp, fmt.Sprintf("%s %s", p, pct(ds, 50)))
		}
	}
	fmt.Fprintf(&r, "    phases while fenced, p50: %s (drain: the change feed logs the marker)\n", strings.Join(fp, ", "))
	for _, line := range perRound {
		fmt.Fprintf(&r, "    %s\n", line)
	}
	fmt.Fprintf(&r, "  writes: %d acknowledged, %d refused for a while and then done, %d failed otherwise\n", writes, refused, len(writeFails))
	fmt.Fprintf(&r, "  reads failed: %d of %d (target 0)\n", len(readFails), reads)
	fmt.Fprintf(&r, "  acknowledged writes kept: all %d products written, each with its last acknowledged name, price and version, and the %d seeded, listed after every migration, nothing else\n",
		len(acked), windowItems/2)
	for _, err := range writeFails[:min(5, len(writeFails))] {
		fmt.Fprintf(&r, "    failed write: %v\n", err)
	}
	for _, err := range readFails[:min(5, len(readFails))] {
		fmt.Fprintf(&r, "    failed read: %v\n", err)
	}
	return r.String(), nil
}

// fenceToCutover checks that job moved its tenant and returns the engine's
// own write-refusal time: the job's FencedAt to the tenant record's
// Migration.EndedAt.
func fenceToCutover(ctx context.Context, b *backupBench, job recovery.Job) (time.Duration, error) {
	rec, err := b.cat.GetTenant(ctx, job.TenantID)
	if err != nil {
		return 0, fmt.Errorf("tenant %s after migration %s: %w", job.TenantID, job.ID, err)
	}
	if m := rec.Migration; m == nil || m.JobID != job.ID || m.Outcome != catalog.MigrationMigrated || rec.Placement.Dedicated != job.ToDedicated || job.FencedAt.IsZero() {
		return 0, fmt.Errorf("tenant %s after migration %s: placement %+v, migration %+v", job.TenantID, job.ID, rec.Placement, m)
	}
	return rec.Migration.EndedAt.Sub(job.FencedAt), nil
}

// migrateTo changes the tenant's tier and runs the migration it asks for
// to its end, as the provisioner does, and returns the job and how long
// that took.
func migrateTo(ctx context.Context, b *backupBench, tenantID string, tier catalog.Tier) (recovery.Job, time.Duration, error) {
	start := time.Now()
	if _, err := b.cat.Apply(ctx, tenantID, store.Change{Tier: tier}, nil, nil); err != nil {
		return recovery.Job{}, 0, fmt.Errorf("tenant %s to tier %s: %w", tenantID, tier, err)
	}
	for {
		job, err := b.svc.Migrate(ctx, tenantID, "bench", "")
		if errors.Is(err, backup.ErrWaiting) {
			continue
		}
		if err == nil && job.State != recovery.StateSucceeded {
			err = fmt.Errorf("job %s ended %s at %s: %s", job.ID, job.State, job.Phase, job.Reason)
		}
		if err != nil {
			return job, 0, fmt.Errorf("migrate tenant %s to tier %s: %w", tenantID, tier, err)
		}
		return job, time.Since(start), nil
	}
}

func direction(toDedicated bool) string {
	if toDedicated {
		return "pooled -> dedicated"
	}
	return "dedicated -> pooled"
}

func metWord(p50, p100 time.Duration) string {
	switch {
	case p100 < windowTarget:
		return "met"
	case p50 < windowTarget:
		return "met at p50, not at p100"
	}
	return "not met"
}

// checkAcked lists the tenant's products: each acknowledged one must be
// there with its last acknowledged name, price and version, and there must
// be no other than the seeded ones.
func checkAcked(ctx context.Context, d store.TenantData, acked map[string]product.Product, seeded int) error {
	listed := map[string]product.Product{}
	for cursor := ""; ; {
		page, err := d.ListProducts(ctx, store.PageRequest{Limit: 100, Cursor: cursor})
		if err != nil {
			return fmt.Errorf("list products: %w", err)
		}
		for _, p := range page.Items {
			listed[p.ID] = p
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	var bad []string
	for id, want := range acked {
		got, ok := listed[id]
		if !ok || got.Name != want.Name || got.Price.Amount != want.Price.Amount || got.Version != want.Version {
			bad = append(bad, fmt.Sprintf("%s: have %q %d v%d (listed %t), acknowledged %q %d v%d", id, got.Name, got.Price.Amount, got.Version, ok, want.Name, want.Price.Amount, want.Version))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d of %d acknowledged products lost or changed: %s", len(bad), len(acked), strings.Join(bad[:min(5, len(bad))], "; "))
	}
	if len(listed) != len(acked)+seeded {
		return fmt.Errorf("%d products listed, want %d (%d seeded, %d written)", len(listed), len(acked)+seeded, seeded, len(acked))
	}
	return nil
}

// migrateLoad is a tenant's traffic during one migration: writers that
// create and update products through the store as API processes do, each
// with its own cached record, and readers that list them.
type migrateLoad struct {
	stop chan struct{}
	wg   sync.WaitGroup

	mu        sync.Mutex
	acked     map[string]product.Product // the last acknowledged write of each product
	longest   time.Duration              // the longest window of one write
	writes    int                        // acknowledged
	refused   int                        // acknowledged after a fenced failure
	failed    []error                    // writes failed otherwise
	reads     int
	readFails []error
}

func startMigrateLoad(ctx context.Context, b *backupBench, tenantID, round string) *migrateLoad {
	l := &migrateLoad{stop: make(chan struct{}), acked: map[string]product.Product{}}
	for w := range windowWriters {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := &cachedTenant{b: b, tenantID: tenantID}
			rng := rand.New(rand.NewPCG(uint64(w), 14))
			var mine []product.Product // this writer's products, as last acknowledged
			for n := 0; l.running(writeEvery); n++ {
				var (
					p    product.Product
					i    = -1
					wait time.Duration
					err  error
				)
				if len(mine) == 0 || rng.IntN(10) < 2 { // mostly updates: the tenant grows slowly
					wait, err = c.write(ctx, func(d store.TenantData) (e error) {
						p, e = d.CreateProduct(ctx, product.Input{Name: fmt.Sprintf("%s w%d-%d", round, w, n), SKU: fmt.Sprintf("%s-W%d-%d", round, w, n),
							Price: &product.Price{Amount: int64(n + 1), Currency: "EUR"}})
						return e
					})
				} else {
					i = rng.IntN(len(mine))
					cur := mine[i]
					wait, err = c.write(ctx, func(d store.TenantData) (e error) {
						p, e = d.UpdateProduct(ctx, cur.ID, cur.Version, product.Input{Name: cur.Name + "+", SKU: cur.SKU,
							Price: &product.Price{Amount: cur.Price.Amount + 1000, Currency: "EUR"}})
						return e
					})
				}
				l.mu.Lock()
				if err != nil {
					l.failed = append(l.failed, err)
				} else {
					l.acked[p.ID] = p
					l.writes++
					if wait > 0 {
						l.refused++
					}
					if i < 0 {
						mine = append(mine, p)
					} else {
						mine[i] = p
					}
				}
				l.longest = max(l.longest, wait)
				l.mu.Unlock()
			}
		}()
	}
	for range windowReaders {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := &cachedTenant{b: b, tenantID: tenantID}
			for l.running(readEvery) {
				d, err := c.data(ctx, false)
				if err == nil {
					_, err = d.ListProducts(ctx, store.PageRequest{Limit: 50})
				}
				l.mu.Lock()
				l.reads++
				if err != nil {
					l.readFails = append(l.readFails, err)
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// running waits pause and reports whether the load goes on.
func (l *migrateLoad) running(pause time.Duration) bool {
	select {
	case <-l.stop:
		return false
	case <-time.After(pause):
		return true
	}
}

func (l *migrateLoad) end() { close(l.stop); l.wg.Wait() }

// cachedTenant is one API process's view of a tenant: its record, read
// again when older than migrateTTL or when a write was fenced.
type cachedTenant struct {
	b        *backupBench
	tenantID string
	rec      catalog.Record
	at       time.Time
}

func (c *cachedTenant) data(ctx context.Context, fresh bool) (store.TenantData, error) {
	if fresh || time.Since(c.at) > migrateTTL {
		rec, err := c.b.cat.GetTenant(ctx, c.tenantID)
		if err != nil {
			return store.TenantData{}, fmt.Errorf("read tenant %s: %w", c.tenantID, err)
		}
		c.rec, c.at = rec, time.Now()
	}
	return c.b.as(c.rec), nil
}

// write runs fn until it is not fenced, pausing retryPause and reading the
// record again after each refusal, and returns how long the write was
// refused (zero when it never was) and its error.
func (c *cachedTenant) write(ctx context.Context, fn func(store.TenantData) error) (time.Duration, error) {
	var first time.Time
	for {
		d, err := c.data(ctx, !first.IsZero())
		if err == nil {
			err = fn(d)
		}
		if !errors.Is(err, store.ErrFenced) {
			if first.IsZero() {
				return 0, err
			}
			return time.Since(first), err
		}
		if first.IsZero() {
			first = time.Now()
		}
		if time.Since(first) > 30*time.Second {
			return time.Since(first), fmt.Errorf("fenced for 30 s: %w", err)
		}
		time.Sleep(retryPause)
	}
}

// phaseLog is the engine's log as the bench reads it: it keeps each "job
// phase done" record (phase, tookMs, items) and passes warnings and errors
// on to warn.
type phaseLog struct {
	warn slog.Handler
	mu   sync.Mutex
	done phasesDone
}

// phaseDone is one phase of a job: how long it took and the job's items
// done after it.
type phaseDone struct {
	phase recovery.Phase
	took  time.Duration
	items int64
}

type phasesDone []phaseDone

func (l *phaseLog) Enabled(context.Context, slog.Level) bool { return true }

func (l *phaseLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		return l.warn.Handle(ctx, r)
	}
	if r.Message != "job phase done" {
		return nil
	}
	var p phaseDone
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "phase":
			p.phase = recovery.Phase(a.Value.String())
		case "tookMs":
			p.took = time.Duration(a.Value.Int64()) * time.Millisecond
		case "items":
			p.items = a.Value.Int64()
		}
		return true
	})
	l.mu.Lock()
	l.done = append(l.done, p)
	l.mu.Unlock()
	return nil
}

func (l *phaseLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *phaseLog) WithGroup(string) slog.Handler      { return l }

// take returns the phases logged since the last take.
func (l *phaseLog) take() phasesDone {
	l.mu.Lock()
	defer l.mu.Unlock()
	done := l.done
	l.done = nil
	return done
}

// of returns the phase p's record.
func (ps phasesDone) of(p recovery.Phase) (phaseDone, bool) {
	for _, d := range ps {
		if d.phase == p {
			return d, true
		}
	}
	return phaseDone{}, false
}

// String renders how long each phase took.
func (ps phasesDone) String() string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("%s %s", p.phase, p.took)
	}
	return strings.Join(parts, ", ")
}
