package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tessera-saas/tessera/internal/control/apikey"
	"github.com/tessera-saas/tessera/internal/control/backup"
	"github.com/tessera-saas/tessera/internal/local/bootstrap"
	"github.com/tessera-saas/tessera/internal/local/emulator"
	"github.com/tessera-saas/tessera/internal/local/seed"
	"github.com/tessera-saas/tessera/internal/local/streampump"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/product"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
	"github.com/tessera-saas/tessera/internal/wire"
)

// Backup and restore (issue 13): the change feed's lag, snapshot and
// restore speed for a tenant of 10,000 items, and restore time against the
// size of the pool around the tenant. On moto, with the stream pump polling
// every pumpEvery as `tessera up` does, and the feed's handler in process.

var (
	backupOnly  = flag.Bool("backup-only", false, "measure only backup and restore, print it, and write it to -backup-out")
	backupOut   = flag.String("backup-out", "bench/backup.txt", "results file of -backup-only")
	backupItems = flag.Int("backup-items", 10000, "items of the large tenant (half products, half their SKU items)")
)

const (
	pumpEvery     = 100 * time.Millisecond
	lagWrites     = 300
	lagRate       = 30 // writes per second
	poolItems     = 1000
	poolSmall     = 5
	poolLarge     = 50
	restoreRounds = 3
)

func runBackupOnly() error {
	report, err := backupReport(context.Background())
	if err != nil {
		return err
	}
	fmt.Print(report)
	if err := os.MkdirAll(filepath.Dir(*backupOut), 0o755); err != nil {
		return err
	}
	return os.WriteFile(*backupOut, []byte(report), 0o644)
}

type backupBench struct {
	s     settings.Settings
	cat   *store.Catalog
	data  *store.Store
	svc   *backup.Service
	seeds seed.Deps
	n     int

	mu     sync.Mutex
	lagPK  string // the partition whose changes' lag is measured
	lags   []time.Duration
	last   time.Time // when the feed last handled records
	phases []phaseAt // of the job run last
	// purgeLogged is how long the feed took to log the last purge.
	purgeLogged time.Duration
}

// phaseAt is when a job was first seen at a phase.
type phaseAt struct {
	phase recovery.Phase
	at    time.Time
}

// recoveryEnv is what the backup and migration benchmarks run on: the
// emulator (started unless AWS_ENDPOINT_URL names one), its configuration
// and bootstrapped settings, the tenants' credentials and a logger that
// writes nothing.
type recoveryEnv struct {
	cfg   aws.Config
	s     settings.Settings
	creds *access.Credentials
	quiet *slog.Logger
}

// startRecoveryBench prepares a bench (catalog, tenant store, seeding) on
// the emulator; the caller sets b.svc, then runs the change feed
// (runFeed). stop stops what it started.
func startRecoveryBench(ctx context.Context) (b *backupBench, env recoveryEnv, stop func(), err error) {
	stop = func() {}
	if os.Getenv("AWS_ENDPOINT_URL") == "" {
		st, err := emulator.Start(ctx, emulator.Options{})
		if err != nil {
			return nil, env, stop, err
		}
		stop = st.Stop
		for k, v := range st.Env() {
			os.Setenv(k, v)
		}
	}
	if env.cfg, err = awsconfig.Load(ctx); err != nil {
		return nil, env, stop, err
	}
	if env.s, err = settings.FromEnv(); err != nil {
		return nil, env, stop, err
	}
	if env.s, err = bootstrap.Run(ctx, env.cfg, env.s); err != nil {
		return nil, env, stop, err
	}
	cfg, s := env.cfg, env.s
	env.quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))
	env.creds = access.NewCredentials(sts.NewFromConfig(cfg), s.DataAccessRoleARN)
	b = &backupBench{s: s, cat: store.NewCatalog(store.NewClient(cfg), s.CatalogTable),
		seeds: seed.Deps{Catalog: store.NewCatalog(store.NewClient(cfg), s.CatalogTable), IDP: cip.NewFromConfig(cfg),
			KMS: kms.NewFromConfig(cfg), Settings: s, Partition: "aws", Account: emulator.Account,
			APIKeys: apikey.New(apigateway.NewFromConfig(cfg), s.Stage, s.UsagePlanIDs)}}
	b.data = store.New(store.NewClient(cfg), crypto.NewEnvelope(kms.NewFromConfig(cfg)), store.WithCredentials(env.creds))
	return b, env, stop, nil
}

// runFeed runs the stream pump, every pumpEvery as `tessera up` does, and
// the change feed's handler in process, recording each batch (b.logged),
// until the returned function is called.
func (b *backupBench) runFeed(ctx context.Context, env recoveryEnv) (stop func()) {
	feed := wire.NewChangeFeed(env.cfg, env.s, env.quiet, io.Discard)
	pump := streampump.New(dynamodbstreams.NewFromConfig(env.cfg), streampump.TableMatcher(env.s.PooledTable, access.DedicatedTablePrefix(env.s.Stage)), env.cfg.Region,
		func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			resp, err := feed.Handle(ctx, ev)
			b.logged(ev)
			return resp, err
		}, streampump.WithInterval(pumpEvery), streampump.WithLogger(env.quiet))
	pctx, cancel := context.WithCancel(ctx)
	pumped := make(chan struct{})
	go func() { defer close(pumped); pump.Run(pctx) }()
	return func() { cancel(); <-pumped }
}

func backupReport(ctx context.Context) (string, error) {
	b, env, stop, err := startRecoveryBench(ctx)
	defer stop()
	if err != nil {
		return "", err
	}
	s := env.s
	b.svc = backup.New(backup.Deps{Catalog: b.cat, Data: b.data, Creds: env.creds, Objects: awsconfig.NewS3(env.cfg), Bucket: s.BackupBucket,
		Cloner: seed.Cloner{Deps: b.seeds, Password: benchPassword, Domain: "bench.test"}, Wait: 10 * time.Minute, Log: env.quiet})
	defer b.runFeed(ctx, env)()

	var r strings.Builder
	fmt.Fprintf(&r, "Backup and restore (issue 13), %s, %s\n", motoRelease, time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&r, "machine: %s, %d cores; stream pump every %s (as `tessera up`), change feed and restores in process\n\n", cpuModel(), runtime.NumCPU(), pumpEvery)

	// Change-feed lag: single writes at a steady rate, from the write's
	// return to the feed's handler having logged it.
	fmt.Fprintf(os.Stderr, "change-feed lag: %d writes at %d/s...\n", lagWrites, lagRate)
	lagTenant, err := b.tenant(ctx, "lag")
	if err != nil {
		return "", err
	}
	d := b.as(lagTenant)
	b.mu.Lock()
	b.lagPK = lagTenant.TenantID + "#PRODUCT"
	b.mu.Unlock()
	tick := time.NewTicker(time.Second / lagRate)
	for i := range lagWrites {
		<-tick.C
		_, err := d.CreateProduct(ctx, product.Input{Name: "lag", SKU: fmt.Sprintf("LAG-%d", i), Price: &product.Price{Amount: 1, Currency: "EUR"}})
		if err != nil {
			tick.Stop()
			return "", err
		}
	}
	tick.Stop()
	lags, err := b.waitLags(lagWrites)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&r, "change-feed lag (the stream's change time -> change logged in S3), %d writes at %d/s:\n  p50 %s  p99 %s  max %s\n\n",
		len(lags), lagRate, pct(lags, 50).Round(time.Millisecond), pct(lags, 99).Round(time.Millisecond), pct(lags, 100).Round(time.Millisecond))

	// A tenant of backupItems items: snapshot, then restore after its data
	// was deleted (every item written back), in place and into a new tenant.
	fmt.Fprintf(os.Stderr, "large tenant: %d items...\n", *backupItems)
	big, err := b.tenant(ctx, "large")
	if err != nil {
		return "", err
	}
	if err := b.fill(ctx, big, *backupItems); err != nil {
		return "", err
	}
	start := time.Now()
	snap, err := b.snapshot(ctx, big)
	if err != nil {
		return "", err
	}
	snapTook := time.Since(start)
	fmt.Fprintf(&r, "snapshot of a %d-item tenant: %s, %.0f items/s, %d parts, %.1f MiB\n", snap.Items, snapTook.Round(time.Millisecond),
		float64(snap.Items)/snapTook.Seconds(), len(snap.Parts), float64(snap.Bytes)/(1<<20))
	job, took, err := b.restoreAfterPurge(ctx, big, "")
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&r, "every item deleted: the feed logged the %d deletions in %s\n", *backupItems, b.purgeLogged.Round(time.Millisecond))
	fmt.Fprintf(&r, "restore in place to before the deletion: %s in all, %.0f items/s (%d written, %d changes replayed)\n  phases: %s\n",
		took.Round(time.Millisecond), float64(job.Written)/took.Seconds(), job.Written, job.Changes, b.phaseTimes(time.Now()))
	start = time.Now()
	clone, err := b.svc.RequestRestore(ctx, backup.RestoreRequest{TenantID: big.TenantID, To: time.Now().UTC(), IntoName: "large clone", Actor: "bench"})
	if err != nil {
		return "", err
	}
	if clone, err = b.run(ctx, big.TenantID, clone.ID); err != nil {
		return "", err
	}
	took = time.Since(start)
	fmt.Fprintf(&r, "restore into a new tenant: %s in all, %.0f items/s (%d written, sealed fields opened and sealed again under the clone's key)\n  phases: %s\n\n",
		took.Round(time.Millisecond), float64(clone.Written)/took.Seconds(), clone.Written, b.phaseTimes(time.Now()))

	// Restore time against the pool's size: one 1,000-item tenant restored
	// from a pool of 5 tenants, then of 50.
	fmt.Fprintf(os.Stderr, "pool of %d, then %d tenants of %d items...\n", poolSmall, poolLarge, poolItems)
	var pool []catalog.Record
	times := map[int]time.Duration{}
	for _, size := range []int{poolSmall, poolLarge} {
		for len(pool) < size {
			rec, err := b.tenant(ctx, fmt.Sprintf("pool-%02d", len(pool)))
			if err != nil {
				return "", err
			}
			if err := b.fill(ctx, rec, poolItems); err != nil {
				return "", err
			}
			pool = append(pool, rec)
		}
		b.settle() // a pool at rest: the feed has logged the filling
		target := pool[len(pool)-1]
		if _, err := b.snapshot(ctx, target); err != nil {
			return "", err
		}
		var (
			best   time.Duration
			phases string
		)
		for range restoreRounds {
			_, took, err := b.restoreAfterPurge(ctx, target, "")
			if err != nil {
				return "", err
			}
			if best == 0 || took < best {
				best, phases = took, b.phaseTimes(time.Now())
			}
		}
		times[size] = best
		fmt.Fprintf(&r, "restore of a %d-item tenant in a pool of %2d tenants (%d items): best of %d %s\n  phases: %s\n", poolItems, size, size*poolItems, restoreRounds, best.Round(time.Millisecond), phases)
	}
	fmt.Fprintf(&r, "ratio pool of %d / pool of %d: %.2f (a restore reads and writes only the tenant's own partitions and change log)\n",
		poolLarge, poolSmall, times[poolLarge].Seconds()/times[poolSmall].Seconds())
	return r.String(), nil
}

func (b *backupBench) tenant(ctx context.Context, name string) (catalog.Record, error) {
	b.n++
	return seed.Ensure(ctx, b.seeds, seed.Spec{Name: "backup-" + name, Tier: catalog.TierBasic,
		AdminEmail: fmt.Sprintf("backup-%s-%d-%d@bench.test", name, b.n, time.Now().UnixNano()), Password: benchPassword})
}

func (b *backupBench) as(rec catalog.Record) store.TenantData {
	sc, err := catalog.ScopeOf(tenant.Tenant{ID: rec.TenantID, UserID: "bench", Role: tenant.RoleAdmin}, rec)
	if err != nil {
		panic(err)
	}
	return b.data.For(sc)
}

// fill gives the tenant n items: n/2 products, each with its SKU item,
// created through the store as the API creates them, 8 at a time.
func (b *backupBench) fill(ctx context.Context, rec catalog.Record, n int) error {
	d := b.as(rec)
	sem := make(chan struct{}, 8)
	errs := make(chan error, n/2)
	var wg sync.WaitGroup
	for i := range n / 2 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := d.CreateProduct(ctx, product.Input{Name: fmt.Sprintf("Product %d", i), SKU: fmt.Sprintf("SKU-%06d", i),
				Price: &product.Price{Amount: int64(i + 1), Currency: "EUR"}, Description: "a product of the backup benchmark"}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (b *backupBench) snapshot(ctx context.Context, rec catalog.Record) (recovery.Snapshot, error) {
	job, err := b.svc.RequestBackup(ctx, rec.TenantID, "bench", "", recovery.TriggerOperator)
	if err != nil {
		return recovery.Snapshot{}, err
	}
	if job, err = b.run(ctx, rec.TenantID, job.ID); err != nil {
		return recovery.Snapshot{}, err
	}
	snaps, err := b.svc.Snapshots(ctx, rec.TenantID)
	if err != nil {
		return recovery.Snapshot{}, err
	}
	for _, sn := range snaps {
		if sn.ID == job.SnapshotID {
			return sn, nil
		}
	}
	return recovery.Snapshot{}, fmt.Errorf("snapshot %s not listed", job.SnapshotID)
}

// restoreAfterPurge deletes every item of the tenant, then restores it in
// place to just before, and returns the job and the restore's time.
func (b *backupBench) restoreAfterPurge(ctx context.Context, rec catalog.Record, into string) (recovery.Job, time.Duration, error) {
	time.Sleep(1100 * time.Millisecond) // change times may be whole seconds
	to := time.Now().UTC()
	time.Sleep(1100 * time.Millisecond)
	if _, err := b.as(rec).PurgeTenant(ctx); err != nil {
		return recovery.Job{}, 0, err
	}
	b.purgeLogged = b.settle() // the feed logs the deletions first
	start := time.Now()
	job, err := b.svc.RequestRestore(ctx, backup.RestoreRequest{TenantID: rec.TenantID, To: to, IntoName: into, Actor: "bench"})
	if err != nil {
		return recovery.Job{}, 0, err
	}
	job, err = b.run(ctx, rec.TenantID, job.ID)
	return job, time.Since(start), err
}

func (b *backupBench) run(ctx context.Context, tenantID, jobID string) (recovery.Job, error) {
	b.phases = nil
	watch, stop := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() { // the job's phases as an operator's --wait sees them
		defer close(watched)
		for watch.Err() == nil {
			if j, err := b.svc.Job(watch, tenantID, jobID); err == nil && (len(b.phases) == 0 || b.phases[len(b.phases)-1].phase != j.Phase) {
				b.phases = append(b.phases, phaseAt{j.Phase, time.Now()})
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	err := b.svc.Run(ctx, tenantID, jobID)
	stop()
	<-watched
	if err != nil {
		return recovery.Job{}, err
	}
	job, err := b.svc.Job(ctx, tenantID, jobID)
	if err == nil && job.State != recovery.StateSucceeded {
		err = fmt.Errorf("job %s ended %s: %s", job.ID, job.State, job.Reason)
	}
	return job, err
}

// settle waits until the change feed has handled nothing for a second (it
// has logged every change so far) and returns how long that took.
func (b *backupBench) settle() time.Duration {
	start := time.Now()
	for {
		b.mu.Lock()
		idle := time.Since(b.last)
		b.mu.Unlock()
		if idle > time.Second {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// phaseTimes renders how long the last job spent in each phase.
func (b *backupBench) phaseTimes(end time.Time) string {
	var parts []string
	for i, p := range b.phases {
		next := end
		if i+1 < len(b.phases) {
			next = b.phases[i+1].at
		}
		parts = append(parts, fmt.Sprintf("%s %s", p.phase, next.Sub(p.at).Round(10*time.Millisecond)))
	}
	return strings.Join(parts, ", ")
}

// logged records, for each product change of the lag tenant in a batch
// the feed handled, how long after the change (the stream's creation time,
// in milliseconds on moto) it was logged: what ChangeFeedLag reports.
func (b *backupBench) logged(ev events.DynamoDBEvent) {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(ev.Records) > 0 {
		b.last = now
	}
	for _, r := range ev.Records {
		if b.lagPK != "" && r.Change.Keys["pk"].String() == b.lagPK {
			b.lags = append(b.lags, now.Sub(r.Change.ApproximateCreationDateTime.Time))
		}
	}
}

func (b *backupBench) waitLags(n int) ([]time.Duration, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		b.mu.Lock()
		got := len(b.lags)
		b.mu.Unlock()
		if got >= n {
			b.mu.Lock()
			defer b.mu.Unlock()
			return append([]time.Duration(nil), b.lags...), nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("change feed logged %d of %d writes in a minute", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
