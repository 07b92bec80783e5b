package backup_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/control/backup"
	"github.com/tessera-saas/tessera/internal/control/provision"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/product"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// migrationTTL stands for the catalog cache's TTL in these tests: the
// processes below cache a tenant's record that long, and the engine waits
// for it (and the request bound) before it fences the source.
const migrationTTL = time.Second

// newMigrationHarness is newHarness with dedicated tables made by real
// TenantStacks on the emulator's CloudFormation.
func newMigrationHarness(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	h.deps.Tables = provision.Tables{Stacks: cloudformation.NewFromConfig(h.e.Config), Settings: h.e.Settings}
	h.deps.PooledTable = h.e.Settings.PooledTable
	h.deps.CatalogTTL, h.deps.RequestBound = migrationTTL, 500*time.Millisecond
	h.svc = backup.New(h.deps)
	return h
}

// proc is one API process: it caches the tenant's record for migrationTTL
// and, when a write is fenced, reads it again and retries, as the tenant
// API does (after its 503's Retry-After, or at once when the placement
// has changed).
type proc struct {
	h        *harness
	tenantID string
	mu       sync.Mutex
	rec      catalog.Record
	at       time.Time
}

func (p *proc) data(t *testing.T, fresh bool) store.TenantData {
	p.mu.Lock()
	defer p.mu.Unlock()
	if fresh || time.Since(p.at) > migrationTTL {
		rec, err := p.h.cat.GetTenant(bg, p.tenantID)
		if err != nil {
			t.Error(err)
			return store.TenantData{}
		}
		p.rec, p.at = rec, time.Now()
	}
	sc, err := catalog.ScopeOf(tenant.Tenant{ID: p.tenantID, UserID: "u", Role: tenant.RoleAdmin}, p.rec)
	if err != nil {
		t.Error(err)
	}
	return p.h.data.For(sc)
}

// write runs fn until it is not fenced, and returns how long it was
// refused (zero when it never was) and its error.
func (p *proc) write(t *testing.T, fn func(store.TenantData) error) (time.Duration, error) {
	var first time.Time
	fresh := false
	for {
		err := fn(p.data(t, fresh))
		if !errors.Is(err, store.ErrFenced) {
			if first.IsZero() {
				return 0, err
			}
			return time.Since(first), err
		}
		if first.IsZero() {
			first = time.Now()
		}
		if time.Since(first) > time.Minute { // refused for good: a fence left up
			return time.Since(first), fmt.Errorf("fenced for a minute: %w", err)
		}
		time.Sleep(250 * time.Millisecond) // sooner than the 503's Retry-After
		fresh = true
	}
}

// want is what a writer's acknowledged writes left of one product.
type want struct {
	name    string
	price   int64
	version int64
	deleted bool
}

// load runs writers (creates, updates and deletes of their own products)
// and readers against the tenant until stop is closed, and reports every
// acknowledged write's end state, the failed reads and the longest wait.
type load struct {
	mu         sync.Mutex
	products   map[string]*want // of this load's writers
	failed     []string
	readFails  int
	reads      int
	writes     int
	longest    time.Duration
	stop       chan struct{}
	wg         sync.WaitGroup
	fencedSeen int
}

func startLoad(t *testing.T, h *harness, tenantID, round string, writers, readers int) *load {
	l := &load{products: map[string]*want{}, stop: make(chan struct{})}
	for w := range writers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			p := &proc{h: h, tenantID: tenantID}
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			var mine []string
			for n := 0; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				var (
					err  error
					wait time.Duration
				)
				switch op := rng.IntN(10); {
				case op < 5 || len(mine) == 0:
					var created product.Product
					wait, err = p.write(t, func(d store.TenantData) error {
						var e error
						created, e = d.CreateProduct(bg, product.Input{Name: fmt.Sprintf("%s w%d-%d", round, w, n), SKU: fmt.Sprintf("%s-W%d-%d", round, w, n), Price: &product.Price{Amount: int64(n + 1), Currency: "EUR"}})
						return e
					})
					if err == nil {
						l.mu.Lock()
						l.products[created.ID] = &want{name: created.Name, price: created.Price.Amount, version: created.Version}
						l.mu.Unlock()
						mine = append(mine, created.ID)
					}
				case op < 8:
					id := mine[rng.IntN(len(mine))]
					l.mu.Lock()
					cur := *l.products[id]
					l.mu.Unlock()
					var updated product.Product
					wait, err = p.write(t, func(d store.TenantData) error {
						var e error
						updated, e = d.UpdateProduct(bg, id, cur.version, product.Input{Name: cur.name + "+", SKU: "U-" + id, Price: &product.Price{Amount: cur.price + 1000, Currency: "EUR"}})
						return e
					})
					if err == nil {
						l.mu.Lock()
						l.products[id] = &want{name: updated.Name, price: updated.Price.Amount, version: updated.Version}
						l.mu.Unlock()
					}
				default:
					i := rng.IntN(len(mine))
					id := mine[i]
					wait, err = p.write(t, func(d store.TenantData) error { return d.DeleteProduct(bg, id) })
					if err == nil {
						l.mu.Lock()
						l.products[id].deleted = true
						l.mu.Unlock()
						mine = slices.Delete(mine, i, i+1)
					}
				}
				l.mu.Lock()
				l.writes++
				if err != nil {
					l.failed = append(l.failed, err.Error())
				}
				if wait > 0 {
					l.fencedSeen++
				}
				l.longest = max(l.longest, wait)
				l.mu.Unlock()
			}
		}()
	}
	for range readers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			p := &proc{h: h, tenantID: tenantID}
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				_, err := p.data(t, false).ListProducts(bg, store.PageRequest{Limit: 50})
				l.mu.Lock()
				l.reads++
				if err != nil {
					l.readFails++
					l.failed = append(l.failed, "read: "+err.Error())
				}
				l.mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	return l
}

func (l *load) end() { close(l.stop); l.wg.Wait() }

// migrate changes the tenant's tier and runs the migration the provisioner
// would, to its end.
func (h *harness) migrate(t *testing.T, tenantID string, tier catalog.Tier) recovery.Job {
	t.Helper()
	if _, err := h.cat.Apply(bg, tenantID, store.Change{Tier: tier}, nil, nil); err != nil {
		t.Fatal(err)
	}
	for {
		job, err := h.svc.Migrate(bg, tenantID, "op-1", "")
		if errors.Is(err, backup.ErrWaiting) {
			continue
		}
		if err != nil {
			t.Fatalf("migrate to %s: %v", tier, err)
		}
		return job
	}
}

// TestMigrationBothWaysUnderLoad: a pooled tenant moves to a dedicated
// table and back while writers create, update and delete its products and
// readers list them. Every acknowledged write is there afterwards with its
// final value, nothing is there twice, no read fails, the writes were
// refused only briefly, and the bystander tenant of the pool is untouched.
func TestMigrationBothWaysUnderLoad(t *testing.T) {
	h := newMigrationHarness(t)
	acme := fixture.NewTenant(t, h.e, "MigrateAcme").Record
	bystander := fixture.NewTenant(t, h.e, "MigrateBystander").Record
	mustProduct(t, h.as(t, bystander.TenantID), "Bystander", "B-1", 5)
	before := h.raw(t, bystander)
	seedAcme := h.as(t, acme.TenantID)
	for i := range 40 {
		p := mustProduct(t, seedAcme, fmt.Sprintf("Seed %d", i), fmt.Sprintf("S-%d", i), int64(i+1))
		if i%4 == 0 {
			mustOrder(t, seedAcme, p.ID, fmt.Sprintf("Customer %d", i))
		}
	}

	expect := map[string]*want{} // every round's acknowledged writes
	for _, step := range []struct {
		tier      catalog.Tier
		dedicated bool
	}{{catalog.TierPremium, true}, {catalog.TierBasic, false}} {
		from, err := h.cat.GetTenant(bg, acme.TenantID)
		if err != nil {
			t.Fatal(err)
		}
		l := startLoad(t, h, acme.TenantID, string(step.tier), 4, 2)
		time.Sleep(300 * time.Millisecond)
		job := h.migrate(t, acme.TenantID, step.tier)
		time.Sleep(migrationTTL + 500*time.Millisecond) // writers holding the old placement meet its fence
		l.end()

		rec, err := h.cat.GetTenant(bg, acme.TenantID)
		if err != nil {
			t.Fatal(err)
		}
		if job.State != recovery.StateSucceeded || rec.Status != catalog.StatusActive || rec.Placement.Dedicated != step.dedicated ||
			rec.Placement.Table == from.Placement.Table || rec.Placement.KeyARN != from.Placement.KeyARN {
			t.Fatalf("to %s: job %s %s (%s), tenant %s in %+v (was %s)", step.tier, job.State, job.Phase, job.Reason, rec.Status, rec.Placement, from.Placement.Table)
		}
		m := rec.Migration
		if m == nil || m.Outcome != catalog.MigrationMigrated || m.JobID != job.ID || m.OldPlacement == nil || m.OldPlacement.Table != from.Placement.Table ||
			m.Verified != job.Verified || m.Verified == 0 || m.DeleteAfter.Sub(m.EndedAt) != backup.DefaultGrace {
			t.Fatalf("to %s: migration record %+v", step.tier, m)
		}
		if len(l.failed) > 0 {
			t.Fatalf("to %s: %d of %d writes and %d reads failed: %v", step.tier, len(l.failed), l.writes, l.reads, l.failed[:min(5, len(l.failed))])
		}
		if l.readFails != 0 || l.reads == 0 || l.writes < 20 {
			t.Fatalf("to %s: %d reads (%d failed), %d writes", step.tier, l.reads, l.readFails, l.writes)
		}
		t.Logf("to %s: %d writes (%d refused for a while, longest %v), %d reads, none failed; %d items verified; job %s; fenced %s, marked +%v, cut over +%v",
			step.tier, l.writes, l.fencedSeen, l.longest.Round(time.Millisecond), l.reads, job.Verified, job.ID, job.FencedAt.Format("15:04:05.000"),
			job.MarkedAt.Sub(job.FencedAt).Round(time.Millisecond), m.EndedAt.Sub(job.FencedAt).Round(time.Millisecond))

		// Every acknowledged write, and nothing else, in the new placement.
		d := h.as(t, acme.TenantID)
		live := 40
		for id, w := range l.products {
			expect[id] = w
		}
		for id, w := range expect {
			got, err := d.GetProduct(bg, id)
			switch {
			case w.deleted:
				if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("to %s: deleted product %s: %+v, %v", step.tier, id, got, err)
				}
			case err != nil:
				t.Errorf("to %s: product %s: %v", step.tier, id, err)
			case got.Name != w.name || got.Price.Amount != w.price || got.Version != w.version:
				t.Errorf("to %s: product %s = %s %d v%d, want %s %d v%d", step.tier, id, got.Name, got.Price.Amount, got.Version, w.name, w.price, w.version)
			default:
				live++
			}
		}
		var listed int
		for cursor := ""; ; {
			page, err := d.ListProducts(bg, store.PageRequest{Limit: 100, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			listed += len(page.Items)
			if cursor = page.Next; cursor == "" {
				break
			}
		}
		if listed != live {
			t.Fatalf("to %s: %d products listed, want %d (the seeds and the live ones written)", step.tier, listed, live)
		}

		// A write sent with the old placement, as a stale process would,
		// is refused by the fence and leaves nothing behind.
		stale := from
		stale.Status = catalog.StatusMigrating
		sc, err := catalog.ScopeOf(tenant.Tenant{ID: acme.TenantID, UserID: "u", Role: tenant.RoleAdmin}, stale)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.data.For(sc).CreateProduct(bg, product.Input{Name: "Stale", SKU: "STALE-" + string(step.tier), Price: &product.Price{Amount: 1, Currency: "EUR"}}); !errors.Is(err, store.ErrFenced) {
			t.Fatalf("to %s: a write to the old placement: %v, want ErrFenced", step.tier, err)
		}
		if page, err := d.ListProducts(bg, store.PageRequest{Limit: 100}); err != nil || slices.ContainsFunc(page.Items, func(p product.Product) bool { return p.Name == "Stale" }) {
			t.Fatalf("to %s: the fenced write left a product: %v", step.tier, err)
		}
	}
	if after := h.raw(t, bystander); !mapsEqual(before, after) {
		t.Fatalf("bystander changed: %d items before, %d after", len(before), len(after))
	}
	audit, err := h.cat.AuditTrail(bg, acme.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Action)
	}
	for _, want := range []string{"migration-requested", "migration-started", "migrated", "old-copy-deleted"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit lacks %q: %v", want, actions)
		}
	}
}

// TestMigrationVerificationFailureRollsBack: an item changed in the copy
// behind the migration's back fails the verification; the tenant is
// ACTIVE on its pooled table again, unfenced, with the reason recorded, and
// the partial copy goes with its stack.
func TestMigrationVerificationFailureRollsBack(t *testing.T) {
	h := newMigrationHarness(t)
	acme := fixture.NewTenant(t, h.e, "MigrateCorrupt").Record
	d := h.as(t, acme.TenantID)
	var victim product.Product
	for i := range 12 {
		victim = mustProduct(t, d, fmt.Sprintf("Item %d", i), fmt.Sprintf("I-%d", i), int64(i+1))
	}
	before := h.view(t, acme.TenantID)
	// Older than the change log the migration replays (which would write
	// the victim again, and so mend it).
	time.Sleep(backup.FeedSkew + time.Second)
	if _, err := h.cat.Apply(bg, acme.TenantID, store.Change{Tier: catalog.TierPremium}, nil, nil); err != nil {
		t.Fatal(err)
	}
	job, err := h.svc.RequestMigration(bg, acme.TenantID, "op-1")
	if err != nil {
		t.Fatal(err)
	}
	job = h.stepTo(t, acme.TenantID, job.ID, recovery.PhaseCatchUp) // copied
	if job.ToTable == "" || job.ItemsDone != 36 {                   // 12 products and their 24 SKU items (exact and lower case)
		t.Fatalf("after the copy: %+v", job)
	}
	// One item of the copy changes: a bit flipped on the way, say.
	if _, err := dynamodb.NewFromConfig(h.e.Config).UpdateItem(bg, &dynamodb.UpdateItemInput{TableName: aws.String(job.ToTable),
		Key:              map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: acme.TenantID + "#PRODUCT"}, "sk": &ddbtypes.AttributeValueMemberS{Value: victim.ID}},
		UpdateExpression: aws.String("SET #n = :n"), ExpressionAttributeNames: map[string]string{"#n": "name"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":n": &ddbtypes.AttributeValueMemberS{Value: "corrupted"}}}); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Run(bg, acme.TenantID, job.ID); err != nil {
		t.Fatal(err)
	}
	if job, err = h.svc.Job(bg, acme.TenantID, job.ID); err != nil {
		t.Fatal(err)
	}
	if job.State != recovery.StateRolledBack || !strings.Contains(job.Reason, "verification failed: partition PRODUCT") {
		t.Fatalf("job = %s (%s)", job.State, job.Reason)
	}
	rec, err := h.cat.GetTenant(bg, acme.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != catalog.StatusActive || rec.Placement != acme.Placement || rec.Migration == nil ||
		rec.Migration.Outcome != catalog.MigrationFailed || !strings.Contains(rec.Migration.Reason, "verification failed") {
		t.Fatalf("tenant after the rollback: %s %+v %+v", rec.Status, rec.Placement, rec.Migration)
	}
	if got := h.view(t, acme.TenantID); got != before {
		t.Fatalf("items after the rollback:\n got %s\nwant %s", got, before)
	}
	if _, err := h.as(t, acme.TenantID).CreateProduct(bg, product.Input{Name: "After", SKU: "AFTER-1", Price: &product.Price{Amount: 1, Currency: "EUR"}}); err != nil {
		t.Fatalf("a write after the rollback: %v", err)
	}
	stacks, err := cloudformation.NewFromConfig(h.e.Config).DescribeStacks(bg, &cloudformation.DescribeStacksInput{StackName: aws.String(provision.StackName(h.e.Settings.Stage, acme.TenantID))})
	if err == nil && len(stacks.Stacks) > 0 && !strings.HasPrefix(string(stacks.Stacks[0].StackStatus), "DELETE_") {
		t.Fatalf("the copy's stack is %s, want it deleted", stacks.Stacks[0].StackStatus)
	}
	audit, err := h.cat.AuditTrail(bg, acme.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(audit, func(a store.AuditEntry) bool {
		return a.Action == "migration-failed" && strings.Contains(a.Detail, "verification failed")
	}) {
		t.Fatalf("no migration-failed audit entry: %+v", audit)
	}
}

// TestMigrationCrashBetweenAnyTwoStepsEndsConsistent: migrations, in turn
// to a dedicated table and back, each stopped after one more step than the
// last and then run to their end by a new service (a new process), end
// migrated, with the tenant's items exactly as they were; while stopped,
// the tenant is MIGRATING (reads and writes work) from its first step to
// its cutover.
func TestMigrationCrashBetweenAnyTwoStepsEndsConsistent(t *testing.T) {
	h := newMigrationHarness(t)
	acme := fixture.NewTenant(t, h.e, "MigrateCrash").Record
	d := h.as(t, acme.TenantID)
	for i := range 9 {
		p := mustProduct(t, d, fmt.Sprintf("Item %d", i), fmt.Sprintf("C-%d", i), int64(i+1))
		mustOrder(t, d, p.ID, fmt.Sprintf("Buyer %d", i))
	}
	want := h.view(t, acme.TenantID)
	seen := map[recovery.Phase]bool{}
	for n := 1; ; n++ {
		tier := catalog.TierPremium
		if n%2 == 0 {
			tier = catalog.TierBasic
		}
		if _, err := h.cat.Apply(bg, acme.TenantID, store.Change{Tier: tier}, nil, nil); err != nil {
			t.Fatal(err)
		}
		job, err := h.svc.RequestMigration(bg, acme.TenantID, "op-1")
		if err != nil {
			t.Fatal(err)
		}
		stopped := h.stepN(t, acme.TenantID, job.ID, n)
		seen[stopped.Phase] = true
		rec, err := h.cat.GetTenant(bg, acme.TenantID)
		if err != nil {
			t.Fatal(err)
		}
		if !stopped.State.Done() && stopped.Phase != recovery.PhaseQueued && rec.Status != catalog.StatusMigrating {
			t.Fatalf("stopped at %s with the tenant %s, want MIGRATING", stopped.Phase, rec.Status)
		}
		again := backup.New(h.deps) // a new process
		if err := again.Run(bg, acme.TenantID, job.ID); err != nil {
			t.Fatalf("resume after step %d (%s): %v", n, stopped.Phase, err)
		}
		done, err := again.Job(bg, acme.TenantID, job.ID)
		if err != nil || done.State != recovery.StateSucceeded {
			t.Fatalf("resumed after step %d (%s): %s %s, %v", n, stopped.Phase, done.State, done.Reason, err)
		}
		rec, err = h.cat.GetTenant(bg, acme.TenantID)
		if err != nil || rec.Status != catalog.StatusActive || rec.Placement.Dedicated != (tier == catalog.TierPremium) {
			t.Fatalf("after resume at step %d: %s %+v, %v", n, rec.Status, rec.Placement, err)
		}
		if got := h.view(t, acme.TenantID); got != want {
			t.Fatalf("resumed after step %d (%s):\n got %s\nwant %s", n, stopped.Phase, got, want)
		}
		if stopped.State.Done() {
			break
		}
	}
	for _, p := range []recovery.Phase{recovery.PhasePrepare, recovery.PhaseCopy, recovery.PhaseCatchUp, recovery.PhaseFence, recovery.PhaseDrain,
		recovery.PhaseFinal, recovery.PhaseVerify, recovery.PhaseCutover, recovery.PhaseDone} {
		if !seen[p] {
			t.Errorf("no crash was played at phase %s (saw %v)", p, seen)
		}
	}
}

// stepTo runs the job's phases one at a time until it reaches phase (or
// ends), waiting where a phase must wait.
func (h *harness) stepTo(t *testing.T, tenantID, jobID string, phase recovery.Phase) recovery.Job {
	t.Helper()
	return h.steps(t, tenantID, jobID, func(job recovery.Job, _ int) bool { return job.Phase == phase })
}

// stepN runs n of the job's steps (a step that must wait is tried again,
// and not counted), or until it ends.
func (h *harness) stepN(t *testing.T, tenantID, jobID string, n int) recovery.Job {
	t.Helper()
	return h.steps(t, tenantID, jobID, func(_ recovery.Job, done int) bool { return done >= n })
}

func (h *harness) steps(t *testing.T, tenantID, jobID string, enough func(recovery.Job, int) bool) recovery.Job {
	t.Helper()
	job, err := h.svc.Job(bg, tenantID, jobID)
	if err != nil {
		t.Fatal(err)
	}
	for done := 0; !enough(job, done) && !job.State.Done(); {
		next, err := h.svc.Step(bg, job)
		if errors.Is(err, backup.ErrWaiting) {
			time.Sleep(100 * time.Millisecond)
			if job, err = h.svc.Job(bg, tenantID, jobID); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d (%s): %v", done+1, job.Phase, err)
		}
		job = next
		done++
	}
	return job
}

// TestOldCopiesAreDeletedAfterTheGracePeriod: the copy a migrated tenant
// left stays until its grace period ends, then the cleanup deletes it
// (the pooled items and fence; the dedicated table with its stack), with
// an audit entry, and the tenant's live data is untouched.
func TestOldCopiesAreDeletedAfterTheGracePeriod(t *testing.T) {
	h := newMigrationHarness(t)
	h.deps.Grace = 2 * time.Second
	h.svc = backup.New(h.deps)
	acme := fixture.NewTenant(t, h.e, "MigrateGrace").Record
	d := h.as(t, acme.TenantID)
	for i := range 5 {
		mustProduct(t, d, fmt.Sprintf("Item %d", i), fmt.Sprintf("G-%d", i), int64(i+1))
	}
	want := h.view(t, acme.TenantID)
	h.backupNow(t, acme.TenantID) // taken in the pool
	ddb := dynamodb.NewFromConfig(h.e.Config)
	items := func(table, partition string) int {
		t.Helper()
		out, err := ddb.Query(bg, &dynamodb.QueryInput{TableName: aws.String(table), KeyConditionExpression: aws.String("pk = :pk"), ConsistentRead: aws.Bool(true),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": &ddbtypes.AttributeValueMemberS{Value: acme.TenantID + "#" + partition}}})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Items)
	}
	cleanup := func() int {
		t.Helper()
		n, err := h.svc.CleanupOldCopies(bg)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	if job := h.migrate(t, acme.TenantID, catalog.TierPremium); job.State != recovery.StateSucceeded {
		t.Fatalf("to premium: %s %s", job.State, job.Reason)
	}
	pooled := acme.Placement.Table
	if n := cleanup(); n != 0 || items(pooled, "PRODUCT") != 5 || items(pooled, "FENCE") != store.FenceShards {
		t.Fatalf("within the grace period: %d deleted, %d products and %d fence items left in the pool; want 0, 5, %d",
			n, items(pooled, "PRODUCT"), items(pooled, "FENCE"), store.FenceShards)
	}
	time.Sleep(h.deps.Grace)
	if n := cleanup(); n != 1 || items(pooled, "PRODUCT") != 0 || items(pooled, "SKU") != 0 || items(pooled, "FENCE") != 0 {
		t.Fatalf("after the grace period: %d deleted, %d products, %d SKUs and %d fence items left in the pool", n,
			items(pooled, "PRODUCT"), items(pooled, "SKU"), items(pooled, "FENCE"))
	}
	rec, err := h.cat.GetTenant(bg, acme.TenantID)
	if err != nil || !rec.Migration.OldCopyDeleted || h.view(t, acme.TenantID) != want {
		t.Fatalf("after the cleanup: %+v, %v (or the tenant's data changed)", rec.Migration, err)
	}
	if n := cleanup(); n != 0 {
		t.Fatalf("a second cleanup deleted %d copies", n)
	}
	// A restore across the move replays neither the copy written into the
	// new table before the cutover nor the old copy's deletion.
	if job := h.restore(t, acme.TenantID, mark(), ""); job.State != recovery.StateSucceeded {
		t.Fatalf("restore after the move: %s %s", job.State, job.Reason)
	}
	if got := h.view(t, acme.TenantID); got != want {
		t.Fatalf("restored after the move and the cleanup:\n got %s\nwant %s", got, want)
	}

	dedicated := rec.Placement.Table
	if job := h.migrate(t, acme.TenantID, catalog.TierBasic); job.State != recovery.StateSucceeded {
		t.Fatalf("to basic: %s %s", job.State, job.Reason)
	}
	time.Sleep(h.deps.Grace)
	deadline := time.Now().Add(time.Minute)
	for cleanup() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the dedicated table's stack was not deleted within a minute")
		}
		time.Sleep(500 * time.Millisecond)
	}
	if _, err := ddb.DescribeTable(bg, &dynamodb.DescribeTableInput{TableName: aws.String(dedicated)}); err == nil {
		t.Fatalf("table %s still exists after the cleanup", dedicated)
	}
	if got := h.view(t, acme.TenantID); got != want {
		t.Fatalf("the tenant's data after the cleanups:\n got %s\nwant %s", got, want)
	}
	audit, err := h.cat.AuditTrail(bg, acme.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	var deletions []string
	for _, a := range audit {
		if a.Action == "old-copy-deleted" {
			deletions = append(deletions, a.Detail)
		}
	}
	if len(deletions) != 2 || !strings.Contains(deletions[0], pooled) || !strings.Contains(deletions[1], dedicated) {
		t.Fatalf("old-copy-deleted audit entries: %q", deletions)
	}
}

// TestMigrationRefusesTableBoundSealedValues: an order sealed in the
// format that binds the table (written before format 2) would not open in
// another table, so the migration stops at the copy and rolls back, naming
// it; the tenant stays ACTIVE in the pool.
func TestMigrationRefusesTableBoundSealedValues(t *testing.T) {
	h := newMigrationHarness(t)
	acme := fixture.NewTenant(t, h.e, "MigrateLegacy").Record
	mustProduct(t, h.as(t, acme.TenantID), "Item", "L-1", 1)
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	if _, err := dynamodb.NewFromConfig(h.e.Config).PutItem(bg, &dynamodb.PutItemInput{TableName: aws.String(acme.Placement.Table), Item: map[string]ddbtypes.AttributeValue{
		"pk": s(acme.TenantID + "#ORDER"), "sk": s("o-legacy"), "customerName": &ddbtypes.AttributeValueMemberB{Value: []byte{1, 0, 0}},
	}}); err != nil {
		t.Fatal(err)
	}
	job := h.migrate(t, acme.TenantID, catalog.TierPremium)
	if job.State != recovery.StateRolledBack || !strings.Contains(job.Reason, "o-legacy") || !strings.Contains(job.Reason, "binds the table") {
		t.Fatalf("job %s (%s)", job.State, job.Reason)
	}
	rec, err := h.cat.GetTenant(bg, acme.TenantID)
	if err != nil || rec.Status != catalog.StatusActive || rec.Placement != acme.Placement || rec.Migration.Outcome != catalog.MigrationFailed {
		t.Fatalf("tenant %s %+v %+v, %v", rec.Status, rec.Placement, rec.Migration, err)
	}
}
