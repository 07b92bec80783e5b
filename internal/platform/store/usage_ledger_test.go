package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/entityid"
	"github.com/tessera-saas/tessera/internal/platform/metering"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// Record writes many totals at once (ledgerWriters at a time) and settles
// every one; a stale total (smaller than the stored one) is settled without
// overwriting it; and a Record whose context has ended settles nothing and
// says so.
func TestLedgerRecordSettlesEveryTotal(t *testing.T) {
	e := testenv.Setup(t)
	l := store.NewLedger(store.NewClient(e.Config), e.Settings.CatalogTable)
	ctx := context.Background()
	hour := time.Now().UTC().Truncate(time.Hour)
	run := entityid.New()
	var usages []metering.Usage
	for i := range 40 {
		usages = append(usages, metering.Usage{TenantID: fmt.Sprintf("t-ledger%s%02d", run, i), Hour: hour, Requests: int64(i + 1), ReadCapacityUnits: 0.5})
	}
	written, err := l.Record(ctx, "w-1", usages)
	if err != nil || len(written) != len(usages) {
		t.Fatalf("Record settled %d of %d: %v", len(written), len(usages), err)
	}
	for _, u := range usages {
		tot, err := l.Totals(ctx, u.TenantID, hour, hour.Add(time.Hour))
		if err != nil || tot.Requests != u.Requests || tot.ReadCapacityUnits != 0.5 {
			t.Fatalf("Totals(%s) = %+v, %v; want %d requests", u.TenantID, tot, err, u.Requests)
		}
	}

	stale := usages[5]
	stale.Requests = 1
	if written, err := l.Record(ctx, "w-1", []metering.Usage{stale}); err != nil || len(written) != 1 {
		t.Fatalf("stale Record settled %d: %v", len(written), err)
	}
	if tot, _ := l.Totals(ctx, stale.TenantID, hour, hour.Add(time.Hour)); tot.Requests != usages[5].Requests {
		t.Fatalf("a stale total overwrote the ledger: %d requests, want %d", tot.Requests, usages[5].Requests)
	}

	done, cancel := context.WithCancel(ctx)
	cancel()
	written, err = l.Record(done, "w-1", usages)
	if !errors.Is(err, context.Canceled) || len(written) != 0 {
		t.Fatalf("Record with an ended context settled %d: %v; want none, context.Canceled", len(written), err)
	}
}
