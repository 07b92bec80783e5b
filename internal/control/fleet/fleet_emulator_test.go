package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tessera-saas/tessera/internal/control/fleet"
	"github.com/tessera-saas/tessera/internal/control/migrations"
	"github.com/tessera-saas/tessera/internal/local/seed"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/order"
	"github.com/tessera-saas/tessera/internal/platform/product"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var bg = context.Background()

type harness struct {
	e       *testenv.Env
	cat     *store.Catalog
	data    *store.Store
	mu      sync.Mutex
	tenants map[string]bool // this test's tenants: the runner's Only
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	e := testenv.Setup(t)
	creds := access.NewCredentials(sts.NewFromConfig(e.Config), e.Settings.DataAccessRoleARN)
	return &harness{e: e, cat: store.NewCatalog(store.NewClient(e.Config), e.Settings.CatalogTable),
		data:    store.New(store.NewClient(e.Config), crypto.NewEnvelope(kms.NewFromConfig(e.Config)), store.WithCredentials(creds)),
		tenants: map[string]bool{}}
}

func (h *harness) runner(t *testing.T, d fleet.Deps) *fleet.Runner {
	t.Helper()
	if d.Catalog == nil {
		d.Catalog = h.cat
	}
	d.Data = h.data
	d.Only = func(rec catalog.Record) bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.tenants[rec.TenantID]
	}
	if d.Template == "" {
		d.Template = "2"
	}
	if d.Log == nil {
		d.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	r, err := fleet.New(d)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tenant onboards a pooled tenant of this test; premium ones get a
// dedicated table (made here, as a TenantStack would).
func (h *harness) tenant(t *testing.T, name string, premium bool) catalog.Record {
	t.Helper()
	rec := fixture.NewTenant(t, h.e, name).Record
	if premium {
		table := access.DedicatedTable(h.e.Settings.Stage, rec.TenantID)
		ddb := dynamodb.NewFromConfig(h.e.Config)
		if _, err := ddb.CreateTable(bg, &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: ddbtypes.BillingModePayPerRequest,
			AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}, {AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
			KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange}},
		}); err != nil {
			t.Fatal(err)
		}
		placement := catalog.Placement{Cell: rec.Placement.Cell, Table: table, Dedicated: true, KeyARN: rec.Placement.KeyARN, Template: "1"}
		var err error
		if rec, err = h.cat.Apply(bg, rec.TenantID, store.Change{Tier: catalog.TierPremium, Placement: &placement}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	h.mu.Lock()
	h.tenants[rec.TenantID] = true
	h.mu.Unlock()
	return rec
}

func (h *harness) as(t *testing.T, tenantID string) store.TenantData {
	t.Helper()
	rec, err := h.cat.GetTenant(bg, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := catalog.ScopeOf(tenant.Tenant{ID: rec.TenantID, UserID: "u", Role: tenant.RoleAdmin}, rec)
	if err != nil {
		t.Fatal(err)
	}
	return h.data.For(sc)
}

// legacy writes n products in format 1, as the release before migration
// 0001 wrote them (no skuKey; only the exact SKU reserved), and an order
// of the first: skus are "Sku-<prefix>-<i>" (mixed case) unless lower.
func (h *harness) legacy(t *testing.T, rec catalog.Record, prefix string, n int, lower bool) []string {
	t.Helper()
	var skus []string
	for i := range n {
		sku := fmt.Sprintf("Sku-%s-%03d", prefix, i)
		if lower {
			sku = strings.ToLower(sku)
		}
		skus = append(skus, sku)
	}
	return h.legacySKUs(t, rec, skus)
}

func (h *harness) legacySKUs(t *testing.T, rec catalog.Record, skus []string) []string {
	t.Helper()
	d := h.as(t, rec.TenantID)
	ids, err := seed.LegacyProducts(bg, d, rec.TenantID, skus)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) > 0 {
		if _, err := d.CreateOrder(bg, order.Input{ProductID: ids[0], Quantity: 2, Customer: &order.Customer{Name: "Ann", Email: "ann@example.com"},
			Status: order.StatusPending}); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// raw is every item of the tenant's data partitions, by partition and
// sort key.
func (h *harness) raw(t *testing.T, tenantID string) map[string]store.Item {
	t.Helper()
	out := map[string]store.Item{}
	err := h.as(t, tenantID).ScanPartitions(bg, store.DataPartitions, func(partition string, items []store.Item) error {
		for _, it := range items {
			out[partition+"/"+store.SortKeyOf(it)] = it
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func str(it store.Item, name string) string {
	if v, ok := it[name].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func same(a, b store.Item) bool {
	return maps.EqualFunc(a, b, func(x, y ddbtypes.AttributeValue) bool { return fmt.Sprint(x) == fmt.Sprint(y) || equalAV(x, y) })
}

func equalAV(x, y ddbtypes.AttributeValue) bool {
	switch a := x.(type) {
	case *ddbtypes.AttributeValueMemberS:
		b, ok := y.(*ddbtypes.AttributeValueMemberS)
		return ok && a.Value == b.Value
	case *ddbtypes.AttributeValueMemberN:
		b, ok := y.(*ddbtypes.AttributeValueMemberN)
		return ok && a.Value == b.Value
	case *ddbtypes.AttributeValueMemberB:
		b, ok := y.(*ddbtypes.AttributeValueMemberB)
		return ok && string(a.Value) == string(b.Value)
	case *ddbtypes.AttributeValueMemberBOOL:
		b, ok := y.(*ddbtypes.AttributeValueMemberBOOL)
		return ok && a.Value == b.Value
	case *ddbtypes.AttributeValueMemberM:
		b, ok := y.(*ddbtypes.AttributeValueMemberM)
		return ok && maps.EqualFunc(a.Value, b.Value, equalAV)
	}
	return false
}

// checkFormat2 asserts that after is before with every product in format 2
// and the SKU-key reservations added: nothing else changed.
func checkFormat2(t *testing.T, tenantID string, before, after map[string]store.Item) {
	t.Helper()
	want := map[string]bool{}
	for k, it := range before {
		if !strings.HasPrefix(k, store.PartitionProducts+"/") {
			if got, ok := after[k]; !ok || !same(got, it) {
				t.Errorf("tenant %s: %s changed: %v -> %v", tenantID, k, it, got)
			}
			continue
		}
		got := after[k]
		sku := str(it, "sku")
		if str(got, "skuKey") != product.SKUKey(sku) {
			t.Errorf("tenant %s: %s: skuKey = %q, want %q", tenantID, k, str(got, "skuKey"), product.SKUKey(sku))
		}
		if !same(maps.Collect(func(yield func(string, ddbtypes.AttributeValue) bool) {
			for n, v := range got {
				if n != "skuKey" && !yield(n, v) {
					return
				}
			}
		}), it) {
			t.Errorf("tenant %s: %s: attributes other than skuKey changed:\n%v\n%v", tenantID, k, it, got)
		}
		res := store.PartitionSKUs + "/" + product.SKUKey(sku)
		want[res] = true
		if r, ok := after[res]; !ok || str(r, "productId") != store.SortKeyOf(it) {
			t.Errorf("tenant %s: reservation %s = %v, want product %s", tenantID, res, r, store.SortKeyOf(it))
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok && !want[k] {
			t.Errorf("tenant %s: unexpected new item %s", tenantID, k)
		}
	}
}

var m0001 = func() migrations.Migration {
	m, err := migrations.Find(migrations.All(), "0001")
	if err != nil {
		panic(err)
	}
	return m
}()

func TestMigrationOverPooledAndDedicatedTenantsAndAgain(t *testing.T) {
	h := newHarness(t)
	var recs []catalog.Record
	for i, premium := range []bool{false, false, false, true} {
		rec := h.tenant(t, fmt.Sprintf("fleet-%d", i), premium)
		h.legacy(t, rec, fmt.Sprint(i), 30, false)
		h.legacy(t, rec, fmt.Sprint(i)+"l", 3, true) // lower case already: one reservation
		recs = append(recs, rec)
	}
	before := map[string]map[string]store.Item{}
	for _, rec := range recs {
		before[rec.TenantID] = h.raw(t, rec.TenantID)
	}
	r := h.runner(t, fleet.Deps{PageSize: 7})
	target, err := r.Target("migration/0001")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := r.Plan(bg, target)
	if err != nil {
		t.Fatal(err)
	}
	// 1 canary, a wave of 2, the rest; premium last.
	if got := waveSizes(plan); !slices.Equal(got, []int{1, 2, 1}) || plan.Waves[2].Tenants[0].TenantID != recs[3].TenantID {
		t.Fatalf("waves = %v (%+v)", got, plan)
	}
	var progress []fleet.Progress
	var mu sync.Mutex
	rep, err := r.Apply(bg, target, fleet.Options{Wave: -1, MaxConcurrency: 2, Actor: "ops@example.com",
		Progress: func(p fleet.Progress) { mu.Lock(); progress = append(progress, p); mu.Unlock() }})
	if err != nil {
		t.Fatalf("apply: %v (%+v)", err, rep)
	}
	if len(progress) != 4 {
		t.Fatalf("progress = %+v", progress)
	}
	after := map[string]map[string]store.Item{}
	for _, rec := range recs {
		after[rec.TenantID] = h.raw(t, rec.TenantID)
		checkFormat2(t, rec.TenantID, before[rec.TenantID], after[rec.TenantID])
		run, found, err := h.cat.GetFleetRun(bg, rec.TenantID, target.String())
		if err != nil || !found || run.State != fleet.StateApplied || run.By != "ops@example.com" || run.Scanned != 33 || run.Changed != 33 ||
			run.StartedAt.IsZero() || run.EndedAt.IsZero() || run.Checkpoint != "" {
			t.Errorf("run of %s = %+v, %v, %v", rec.TenantID, run, found, err)
		}
		audit, err := h.cat.AuditTrail(bg, rec.TenantID)
		if err != nil || !slices.ContainsFunc(audit, func(a store.AuditEntry) bool { return a.Action == "fleet.apply" && a.Actor == "ops@example.com" }) {
			t.Errorf("audit of %s = %+v, %v", rec.TenantID, audit, err)
		}
	}

	// Again: every tenant is current, and nothing is written.
	rep, err = r.Apply(bg, target, fleet.Options{Wave: -1, Actor: "ops@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range rep.Waves {
		if w.Current != w.Tenants || w.Done != 0 {
			t.Errorf("second apply, wave %+v", w)
		}
	}
	// And the idempotency rule itself: Up on an item in format 2 writes
	// nothing.
	for _, rec := range recs {
		d := h.as(t, rec.TenantID)
		for k, it := range after[rec.TenantID] {
			if !strings.HasPrefix(k, store.PartitionProducts+"/") {
				continue
			}
			if wrote, err := m0001.Up(bg, d, rec.TenantID, it); wrote || err != nil {
				t.Fatalf("Up on a migrated item: %v, %v", wrote, err)
			}
		}
		if got := h.raw(t, rec.TenantID); !maps.EqualFunc(got, after[rec.TenantID], same) {
			t.Errorf("tenant %s changed on the second apply", rec.TenantID)
		}
	}

	// The new format at work: SKUs are unique regardless of case, and a
	// migrated product's update and delete keep its reservations right.
	d := h.as(t, recs[0].TenantID)
	if _, err := d.CreateProduct(bg, product.Input{Name: "x", SKU: "SKU-0-001", Price: &product.Price{Amount: 1, Currency: "EUR"}}); !errors.Is(err, store.ErrSKUTaken) {
		t.Fatalf("create of a sku differing in case only: %v, want ErrSKUTaken", err)
	}
}

func waveSizes(p fleet.Plan) []int {
	var out []int
	for i, w := range p.Waves {
		if w.Number != i {
			panic(fmt.Sprintf("wave %d numbered %d", i, w.Number))
		}
		out = append(out, len(w.Tenants))
	}
	return out
}

// crashing is the catalog of a runner whose process dies: once crashed,
// it saves nothing more.
type crashing struct {
	*store.Catalog
	crashed *bool
}

func (c crashing) SaveFleetRun(ctx context.Context, run store.FleetRun, audit *store.AuditEntry) (store.FleetRun, error) {
	if *c.crashed {
		return store.FleetRun{}, errors.New("process died")
	}
	return c.Catalog.SaveFleetRun(ctx, run, audit)
}

func TestCrashInTheMiddleOfATenantResumesFromTheCheckpoint(t *testing.T) {
	h := newHarness(t)
	rec := h.tenant(t, "fleet-crash", false)
	h.legacy(t, rec, "c", 250, false)
	before := h.raw(t, rec.TenantID)

	// The first runner dies after its 120th item (pages of 50: the
	// checkpoint saved is item 100).
	crashed, calls := false, 0
	crashy := m0001
	crashy.Up = func(ctx context.Context, tx migrations.Tx, tenantID string, it store.Item) (bool, error) {
		if calls++; calls > 120 {
			crashed = true
			return false, errors.New("process died")
		}
		return m0001.Up(ctx, tx, tenantID, it)
	}
	first := h.runner(t, fleet.Deps{Catalog: crashing{h.cat, &crashed}, Migrations: []migrations.Migration{crashy}, PageSize: 50, Hold: 3 * time.Second})
	target, _ := first.Target("0001")
	if _, err := first.ApplyTenant(bg, target, rec.TenantID, "ops", -1); err == nil {
		t.Fatal("the crashing run succeeded")
	}
	run, _, err := h.cat.GetFleetRun(bg, rec.TenantID, target.String())
	if err != nil || run.State != fleet.StateApplying || run.Scanned != 100 || run.Checkpoint == "" {
		t.Fatalf("after the crash: %+v, %v", run, err)
	}

	// Another runner waits while the dead one's hold lasts, then resumes
	// after the checkpoint: it reads the 150 items after it, and the 20
	// the dead one migrated past the checkpoint need nothing.
	seen := 0
	counting := m0001
	counting.Up = func(ctx context.Context, tx migrations.Tx, tenantID string, it store.Item) (bool, error) {
		seen++
		return m0001.Up(ctx, tx, tenantID, it)
	}
	second := h.runner(t, fleet.Deps{Migrations: []migrations.Migration{counting}, PageSize: 50, Hold: 3 * time.Second})
	target, _ = second.Target("0001")
	if _, err := second.ApplyTenant(bg, target, rec.TenantID, "ops", -1); !errors.Is(err, fleet.ErrBusy) {
		t.Fatalf("apply while held: %v, want ErrBusy", err)
	}
	time.Sleep(time.Until(time.UnixMilli(run.HeldUntil)) + 100*time.Millisecond)
	res, err := second.ApplyTenant(bg, target, rec.TenantID, "ops", -1)
	if err != nil || res.Outcome != fleet.StateApplied {
		t.Fatalf("resume: %+v, %v", res, err)
	}
	if seen != 150 {
		t.Fatalf("the resumed run read %d items, want the 150 after the checkpoint", seen)
	}
	run, _, _ = h.cat.GetFleetRun(bg, rec.TenantID, target.String())
	if run.Scanned != 250 || run.Changed != 230 {
		t.Fatalf("run = %+v: want 250 scanned, 230 changed by the runs that recorded them", run)
	}
	checkFormat2(t, rec.TenantID, before, h.raw(t, rec.TenantID))
}

func TestCanaryFailureHaltsBeforeWaveOneAndRollbackRestoresTheOldFormat(t *testing.T) {
	h := newHarness(t)
	canary := h.tenant(t, "fleet-canary", false)
	h.legacy(t, canary, "k", 20, false)
	// A real conflict: a product whose SKU differs only in case from
	// another one, which format 2 refuses.
	h.legacySKUs(t, canary, []string{"sku-k-015"})
	var others []catalog.Record
	for i := range 3 {
		rec := h.tenant(t, fmt.Sprintf("fleet-wave-%d", i), false)
		h.legacy(t, rec, fmt.Sprint(i), 10, false)
		others = append(others, rec)
	}
	before := map[string]map[string]store.Item{}
	for _, rec := range append([]catalog.Record{canary}, others...) {
		before[rec.TenantID] = h.raw(t, rec.TenantID)
	}
	r := h.runner(t, fleet.Deps{Policy: fleet.Policy{Canaries: []string{canary.TenantID}}, PageSize: 5})
	target, _ := r.Target("product-sku-key")
	rep, err := r.Apply(bg, target, fleet.Options{Wave: -1, MaxConcurrency: 4, FailureThreshold: 50, Actor: "ops"})
	if !errors.Is(err, fleet.ErrHalted) {
		t.Fatalf("apply: %v (%+v), want ErrHalted", err, rep)
	}
	if len(rep.Waves) != 1 || rep.Waves[0].Failed != 1 || !strings.Contains(rep.Waves[0].Failures[0].Error, "collides") {
		t.Fatalf("report = %+v", rep)
	}
	run, _, _ := h.cat.GetFleetRun(bg, canary.TenantID, target.String())
	if run.State != fleet.StateFailed || !strings.Contains(run.Error, "sku-k-015") {
		t.Fatalf("canary run = %+v", run)
	}
	for _, rec := range others {
		if got := h.raw(t, rec.TenantID); !maps.EqualFunc(got, before[rec.TenantID], same) {
			t.Errorf("tenant %s of wave 1 was touched after the canary failed", rec.TenantID)
		}
		if _, found, _ := h.cat.GetFleetRun(bg, rec.TenantID, target.String()); found {
			t.Errorf("tenant %s has a run", rec.TenantID)
		}
	}
	// Asking for wave 1 alone is refused while the canaries are not done.
	if _, err := r.Apply(bg, target, fleet.Options{Wave: 1, Actor: "ops"}); !errors.Is(err, fleet.ErrEarlierWave) {
		t.Fatalf("apply --wave 1: %v, want ErrEarlierWave", err)
	}

	rep, err = r.Rollback(bg, target, fleet.Options{Wave: -1, Actor: "ops"})
	if err != nil {
		t.Fatalf("rollback: %v (%+v)", err, rep)
	}
	if n := len(rep.Waves); n != 3 || rep.Waves[0].Wave != 2 || rep.Waves[2].Wave != 0 {
		t.Fatalf("rollback waves = %+v, want 2, 1, 0", rep.Waves)
	}
	for id, want := range before {
		if got := h.raw(t, id); !maps.EqualFunc(got, want, same) {
			t.Errorf("tenant %s after rollback differs from before the rollout", id)
		}
		run, _, _ := h.cat.GetFleetRun(bg, id, target.String())
		if run.State != fleet.StateRolledBack {
			t.Errorf("run of %s = %+v", id, run)
		}
	}
}
