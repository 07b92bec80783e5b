package store_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/export"
	"github.com/tessera-saas/tessera/internal/platform/order"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// migrating returns rec's data as a process sees it that read rec while
// the tenant was MIGRATING: every write of it checks the fence.
func (h harness) migrating(t *testing.T, rec catalog.Record) store.TenantData {
	t.Helper()
	rec.Status = catalog.StatusMigrating
	sc, err := catalog.ActAs(rec)
	if err != nil || !sc.ChecksFence() {
		t.Fatalf("scope of a MIGRATING record: %v, checks fence %v", err, sc.ChecksFence())
	}
	return h.s.For(sc)
}

// tenantData is every item of the tenant's data partitions, read directly.
func (h harness) tenantData(t *testing.T, tenantID string) map[string][]map[string]types.AttributeValue {
	t.Helper()
	out := map[string][]map[string]types.AttributeValue{}
	for _, e := range store.DataPartitions {
		out[e] = h.partition(t, tenantID+"#"+e)
	}
	return out
}

func customer() *order.Customer { return &order.Customer{Name: "Ann", Email: "ann@example.com"} }

// TestFenceRefusesTheWritesOfAMigratingTenant: a scope read from a
// MIGRATING record writes as usual while no fence is up, with the domain
// errors it always had; once the placement's fence is up, every write of it
// fails with ErrFenced and the fence's reason, and writes nothing; a scope
// read from an ACTIVE record does not check the fence (by design: a
// migration waits one catalog TTL after making the tenant MIGRATING before
// it fences, so no process holds an ACTIVE record of it by then); a
// cleared fence lets the writes through again.
func TestFenceRefusesTheWritesOfAMigratingTenant(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "acme").Record
	id := acme.TenantID
	data := h.migrating(t, acme)

	// No fence yet: writes work.
	if _, ok, err := data.Fence(bg); err != nil || ok {
		t.Fatalf("fence before any: ok %v, %v", ok, err)
	}
	p, err := data.CreateProduct(bg, anvil("ANV-1"))
	if err != nil {
		t.Fatalf("create product unfenced: %v", err)
	}
	if p, err = data.UpdateProduct(bg, p.ID, p.Version, anvil("ANV-2")); err != nil || p.Version != 2 {
		t.Fatalf("update product unfenced: %+v, %v", p, err)
	}
	o, err := data.CreateOrder(bg, order.Input{ProductID: p.ID, Quantity: 1, Customer: customer(), Status: order.StatusPending})
	if err != nil {
		t.Fatalf("create order unfenced: %v", err)
	}
	ex, err := data.CreateExport(bg)
	if err != nil {
		t.Fatalf("create export unfenced: %v", err)
	}
	// An update that returns the new item (read back when fenced).
	started, err := data.StartExport(bg, ex.ID, "run-1", time.Now().Add(time.Minute))
	if err != nil || started.Status != export.StatusRunning || started.StartedAt == nil {
		t.Fatalf("start export unfenced: %+v, %v", started, err)
	}
	if _, err := data.PutUser(bg, store.UserRecord{Email: "u@acme.test", Role: "member", Sub: "sub-1"}); err != nil {
		t.Fatalf("put user unfenced: %v", err)
	}
	if _, err := data.CountInvite(bg, 5); err != nil {
		t.Fatalf("count invite unfenced: %v", err)
	}
	if got, err := data.GetProduct(bg, p.ID); err != nil || got.SKU != "ANV-2" {
		t.Fatalf("read back = %+v, %v", got, err)
	}

	// The domain errors come back right through the fenced path.
	missing := "01JCZ8W3T1K5Q7R9S2V4X6Y8Z0"
	domain := []struct {
		name  string
		write func() error
		want  error
	}{
		{"sku taken", func() error { _, err := data.CreateProduct(bg, anvil("ANV-2")); return err }, store.ErrSKUTaken},
		{"stale product version", func() error { _, err := data.UpdateProduct(bg, p.ID, 1, anvil("ANV-3")); return err }, store.ErrVersionConflict},
		{"delete a missing product", func() error { return data.DeleteProduct(bg, missing) }, store.ErrNotFound},
		{"order of a missing product", func() error {
			_, err := data.CreateOrder(bg, order.Input{ProductID: missing, Quantity: 1, Customer: customer(), Status: order.StatusPending})
			return err
		}, store.ErrUnknownProduct},
		{"stale order version", func() error {
			_, err := data.UpdateOrder(bg, o.ID, 7, order.Input{ProductID: p.ID, Quantity: 2, Customer: customer(), Status: order.StatusPending})
			return err
		}, store.ErrVersionConflict},
		{"delete a missing order", func() error { return data.DeleteOrder(bg, missing) }, store.ErrNotFound},
		{"start a running export", func() error {
			_, err := data.StartExport(bg, ex.ID, "run-2", time.Now().Add(time.Minute))
			return err
		}, store.ErrExportRunning},
		{"invite over the limit", func() error { _, err := data.CountInvite(bg, 1); return err }, store.ErrInviteLimit},
	}
	for _, tc := range domain {
		t.Run("unfenced/"+tc.name, func(t *testing.T) {
			if err := tc.write(); !errors.Is(err, tc.want) || errors.Is(err, store.ErrFenced) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// A retried PutUser still returns the first record (its condition
	// failure is a ConditionalCheckFailedException again).
	if u, err := data.PutUser(bg, store.UserRecord{Email: "other@acme.test", Role: "admin", Sub: "sub-1"}); err != nil || u.Email != "u@acme.test" {
		t.Fatalf("put user again = %+v, %v; want the first record", u, err)
	}

	// The fence goes up.
	if err := data.SetFence(bg, store.FenceMigrating, "job-1"); err != nil {
		t.Fatal(err)
	}
	if err := data.SetFence(bg, store.FenceMigrating, "job-1"); err != nil {
		t.Fatalf("set again: %v", err)
	}
	f, ok, err := data.Fence(bg)
	if err != nil || !ok || f.Reason != store.FenceMigrating || f.JobID != "job-1" || f.Since.IsZero() {
		t.Fatalf("fence = %+v, %v, %v", f, ok, err)
	}
	before := h.tenantData(t, id)
	fenced := []struct {
		name  string
		write func() error
	}{
		{"create product", func() error { _, err := data.CreateProduct(bg, anvil("NEW-1")); return err }},
		{"create product with a taken sku", func() error { _, err := data.CreateProduct(bg, anvil("ANV-2")); return err }},
		{"update product", func() error { _, err := data.UpdateProduct(bg, p.ID, p.Version, anvil("ANV-9")); return err }},
		{"update product keeping its sku", func() error { _, err := data.UpdateProduct(bg, p.ID, p.Version, anvil("ANV-2")); return err }},
		{"delete product", func() error { return data.DeleteProduct(bg, p.ID) }},
		{"create order", func() error {
			_, err := data.CreateOrder(bg, order.Input{ProductID: p.ID, Quantity: 2, Customer: customer(), Status: order.StatusPending})
			return err
		}},
		{"update order", func() error {
			_, err := data.UpdateOrder(bg, o.ID, o.Version, order.Input{ProductID: p.ID, Quantity: 3, Customer: customer(), Status: order.StatusConfirmed})
			return err
		}},
		{"delete order", func() error { return data.DeleteOrder(bg, o.ID) }},
		{"create export", func() error { _, err := data.CreateExport(bg); return err }},
		{"finish export", func() error { _, err := data.FinishExport(bg, ex.ID, "run-1", 3, "k"); return err }},
		{"put user", func() error {
			_, err := data.PutUser(bg, store.UserRecord{Email: "v@acme.test", Role: "member", Sub: "sub-2"})
			return err
		}},
		{"count invite", func() error { _, err := data.CountInvite(bg, 5); return err }},
	}
	for _, tc := range fenced {
		t.Run("fenced/"+tc.name, func(t *testing.T) {
			err := tc.write()
			var fe *store.FencedError
			if !errors.Is(err, store.ErrFenced) || !errors.As(err, &fe) {
				t.Fatalf("err = %v, want ErrFenced", err)
			}
			if fe.Fence.Reason != store.FenceMigrating || fe.Fence.JobID != "job-1" {
				t.Fatalf("fence in the error = %+v", fe.Fence)
			}
			if after := h.tenantData(t, id); !reflect.DeepEqual(after, before) {
				t.Fatalf("a fenced write changed the tenant's items:\n before %v\n after  %v", before, after)
			}
		})
	}
	// Reads go on.
	if got, err := data.GetProduct(bg, p.ID); err != nil || got.Version != p.Version {
		t.Fatalf("read while fenced = %+v, %v", got, err)
	}
	// A restore's fence says so.
	if err := data.SetFence(bg, store.FenceRestoring, "job-2"); err != nil {
		t.Fatal(err)
	}
	var fe *store.FencedError
	if err := data.DeleteOrder(bg, o.ID); !errors.As(err, &fe) || fe.Fence.Reason != store.FenceRestoring || fe.Fence.JobID != "job-2" {
		t.Fatalf("write under a restore's fence: %v", err)
	}
	// The feed marker of the job that fenced is not refused by its fence.
	if _, _, err := data.PutFeedMarker(bg, "marker-1"); err != nil {
		t.Fatalf("feed marker behind the fence: %v", err)
	}

	// An ACTIVE scope does not check the fence.
	active := h.as(acme)
	q, err := active.CreateProduct(bg, anvil("ACT-1"))
	if err != nil {
		t.Fatalf("active scope behind a fence: %v", err)
	}
	if got, err := data.GetProduct(bg, q.ID); err != nil || got.SKU != "ACT-1" {
		t.Fatalf("active write not stored: %+v, %v", got, err)
	}

	// Cleared, the fence lets writes through again.
	if err := data.ClearFence(bg); err != nil {
		t.Fatal(err)
	}
	if err := data.ClearFence(bg); err != nil {
		t.Fatalf("clear again: %v", err)
	}
	if _, ok, err := data.Fence(bg); err != nil || ok {
		t.Fatalf("fence after clear: ok %v, %v", ok, err)
	}
	if n := len(h.partition(t, id+"#FENCE")); n != 0 {
		t.Fatalf("%d fence items left after clear", n)
	}
	if _, err := data.UpdateOrder(bg, o.ID, o.Version, order.Input{ProductID: p.ID, Quantity: 3, Customer: customer(), Status: order.StatusConfirmed}); err != nil {
		t.Fatalf("update order after clear: %v", err)
	}
	if done, err := data.FinishExport(bg, ex.ID, "run-1", 3, "k"); err != nil || done.Status != export.StatusDone || done.ItemCount != 3 {
		t.Fatalf("finish export after clear (read back) = %+v, %v", done, err)
	}
	if err := data.DeleteProduct(bg, q.ID); err != nil {
		t.Fatalf("delete product after clear: %v", err)
	}
	if _, err := data.GetProduct(bg, q.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted product: %v", err)
	}
}

// TestFenceItemsAreShardsOutsideTheTenantsData: the fence is FenceShards
// items in the tenant's FENCE partition, which no data partition list
// holds, so a scan of the tenant's data does not see it.
func TestFenceItemsAreShardsOutsideTheTenantsData(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "acme").Record
	data := h.migrating(t, acme)
	if err := data.SetFence(bg, "bored", "job"); err == nil {
		t.Fatal("a fence with an unknown reason was set")
	}
	if err := data.SetFence(bg, store.FenceMigrating, "job-1"); err != nil {
		t.Fatal(err)
	}
	items := h.partition(t, acme.TenantID+"#FENCE")
	if len(items) != store.FenceShards {
		t.Fatalf("%d fence items, want %d", len(items), store.FenceShards)
	}
	seen := map[string]bool{}
	for _, it := range items {
		seen[it["sk"].(*types.AttributeValueMemberS).Value] = true
		if e, ok := store.PartitionOf(acme.TenantID, it); !ok || e != "FENCE" {
			t.Fatalf("PartitionOf(fence item) = %q, %v", e, ok)
		}
		if it["reason"].(*types.AttributeValueMemberS).Value != store.FenceMigrating || it["jobId"].(*types.AttributeValueMemberS).Value != "job-1" {
			t.Fatalf("fence item %v", it)
		}
	}
	for i := range store.FenceShards {
		if !seen["FENCE#"+strconv.Itoa(i)] {
			t.Fatalf("shard FENCE#%d missing: %v", i, seen)
		}
	}
	for _, list := range [][]string{store.DataPartitions, store.RestorablePartitions, store.ClonedPartitions} {
		for _, e := range list {
			if e == "FENCE" {
				t.Fatalf("FENCE is in a data partition list: %v", list)
			}
		}
	}
	n := 0
	if err := data.ScanPartitions(bg, store.DataPartitions, func(_ string, items []store.Item) error { n += len(items); return nil }); err != nil || n != 0 {
		t.Fatalf("scan of the tenant's data found %d items, %v", n, err)
	}
}

// TestAWriteChecksOnlyItsShard: a write checks the one shard its first
// item's key hashes to: with that shard alone up it is refused, with every
// shard up but that one it goes through. (Hence the fence is up only once
// SetFence has written every shard.)
func TestAWriteChecksOnlyItsShard(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "acme").Record
	data := h.migrating(t, acme)
	p, err := data.CreateProduct(bg, anvil("SHARD-1"))
	if err != nil {
		t.Fatal(err)
	}
	mine := "FENCE#" + strconv.Itoa(store.FenceShardOf(acme.TenantID+"#PRODUCT", p.ID)) // UpdateProduct's first item is the product
	only := func(keep func(sk string) bool) {
		t.Helper()
		if err := data.SetFence(bg, store.FenceMigrating, "job-1"); err != nil {
			t.Fatal(err)
		}
		for i := range store.FenceShards {
			if sk := "FENCE#" + strconv.Itoa(i); !keep(sk) {
				h.deleteRaw(t, acme.TenantID+"#FENCE", sk)
			}
		}
	}

	only(func(sk string) bool { return sk == mine })
	if _, err := data.UpdateProduct(bg, p.ID, p.Version, anvil("SHARD-2")); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("update with its shard up: err = %v, want ErrFenced", err)
	}
	only(func(sk string) bool { return sk != mine })
	if p, err = data.UpdateProduct(bg, p.ID, p.Version, anvil("SHARD-2")); err != nil || p.Version != 2 {
		t.Fatalf("update with every shard up but its own: %+v, %v", p, err)
	}
}

// conflicting is the emulator's client whose first transactions are
// cancelled for a TransactionConflict before they reach it, as AWS does
// when another transaction holds one of their items (moto never does).
// failed adds a failed condition to the injected reasons; then runs after
// each injected cancellation.
type conflicting struct {
	*dynamodb.Client
	conflicts int
	failed    bool
	then      func()
	calls     atomic.Int64
}

func (c *conflicting) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if n := c.calls.Add(1); int(n) <= c.conflicts {
		reasons := make([]types.CancellationReason, len(in.TransactItems))
		for i := range reasons {
			reasons[i].Code = aws.String("None")
		}
		reasons[0].Code = aws.String("TransactionConflict")
		if c.failed && len(reasons) > 1 {
			reasons[1].Code = aws.String("ConditionalCheckFailed")
		}
		if c.then != nil {
			c.then()
		}
		return nil, &types.TransactionCanceledException{Message: aws.String("Transaction cancelled"), CancellationReasons: reasons}
	}
	return c.Client.TransactWriteItems(ctx, in, opts...)
}

// conflictCancelled reports whether err is a cancellation for a
// TransactionConflict.
func conflictCancelled(err error) bool {
	var tce *types.TransactionCanceledException
	return errors.As(err, &tce) && len(tce.CancellationReasons) > 0 && aws.ToString(tce.CancellationReasons[0].Code) == "TransactionConflict"
}

// TestTransactionConflictsAreRetried: a transaction cancelled for a
// TransactionConflict only is sent again, up to 4 times in all, fenced or
// not; one with a failed condition as well is not (and maps to its domain
// error); a cancelled context stops the retries.
func TestTransactionConflictsAreRetried(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "acme").Record
	tests := []struct {
		name      string
		migrating bool
		conflicts int
		failed    bool
		calls     int64
		err       func(error) bool // nil: the write succeeds
	}{
		{"two conflicts, then written", false, 2, false, 3, nil},
		{"fenced: three conflicts, then written", true, 3, false, 4, nil},
		{"conflicts throughout", false, 10, false, 4, conflictCancelled},
		{"fenced: conflicts throughout", true, 10, false, 4, conflictCancelled},
		{"a conflict and a failed condition", false, 10, true, 1, func(err error) bool { return errors.Is(err, store.ErrSKUTaken) }},
		{"fenced: a conflict and a failed condition", true, 10, true, 1, func(err error) bool { return errors.Is(err, store.ErrSKUTaken) }},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &conflicting{Client: h.ddb, conflicts: tc.conflicts, failed: tc.failed}
			s := store.New(c, crypto.NewEnvelope(kms.NewFromConfig(h.e.Config)), store.WithCredentials(h.creds))
			rec := acme
			if tc.migrating {
				rec.Status = catalog.StatusMigrating
			}
			sc, err := catalog.ActAs(rec)
			if err != nil {
				t.Fatal(err)
			}
			sku := "CONFLICT-" + strconv.Itoa(i)
			_, err = s.For(sc).CreateProduct(bg, anvil(sku))
			if got := c.calls.Load(); got != tc.calls {
				t.Fatalf("%d calls, want %d (err %v)", got, tc.calls, err)
			}
			reserved := false
			for _, it := range h.partition(t, acme.TenantID+"#SKU") {
				reserved = reserved || it["sk"].(*types.AttributeValueMemberS).Value == sku
			}
			switch {
			case tc.err == nil && (err != nil || !reserved):
				t.Fatalf("retried write: err %v, stored %v; want it stored", err, reserved)
			case tc.err != nil && (!tc.err(err) || reserved):
				t.Fatalf("err = %v, stored %v; want the mapped refusal and nothing stored", err, reserved)
			}
		})
	}
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(bg)
		defer cancel()
		c := &conflicting{Client: h.ddb, conflicts: 10, then: cancel}
		s := store.New(c, crypto.NewEnvelope(kms.NewFromConfig(h.e.Config)), store.WithCredentials(h.creds))
		sc, err := catalog.ActAs(acme)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.For(sc).CreateProduct(ctx, anvil("CONFLICT-CTX")); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if got := c.calls.Load(); got != 1 {
			t.Fatalf("%d calls after the context was cancelled, want 1", got)
		}
	})
}
