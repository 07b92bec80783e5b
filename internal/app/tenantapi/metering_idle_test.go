package tenantapi_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/apievent"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/metering"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/wire"
)

// TestIdleTenantsLastRequestsReachTheLedger is the scenario of a new user:
// a tenant sends 7 requests, then nothing. The usage ledger (what `tessera
// usage` reports) shows the 7 within the flush bound, with no later request
// to carry the flush: the process's flusher writes them on its timer. The
// test runs the flusher on a short interval; the production bound is
// checked against the 90 s the issue allows.
func TestIdleTenantsLastRequestsReachTheLedger(t *testing.T) {
	if wire.LedgerFlushEvery > time.Minute {
		t.Fatalf("LedgerFlushEvery = %v, want at most a minute", wire.LedgerFlushEvery)
	}
	if worst := wire.LedgerFlushEvery + wire.LedgerCheckEvery + metering.FlushTimeout; worst > 90*time.Second {
		t.Fatalf("an idle tenant's last request reaches the ledger up to %v later, want at most 90 s", worst)
	}

	e := testenv.Setup(t)
	const every, check = 300 * time.Millisecond, 100 * time.Millisecond
	app := wire.NewAPI(e.Config, e.Settings, slog.New(slog.NewJSONHandler(io.Discard, nil)), io.Discard, wire.WithLedgerFlush(every, check))
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); app.RunUsageFlusher(ctx) }()
	t.Cleanup(func() { cancel(); <-stopped })

	tn := fixture.NewTenant(t, e, "idle")
	const requests = 7
	from := time.Now().UTC().Truncate(time.Hour)
	for range requests {
		ev := apievent.Request(t, tn.Record.TenantID, "GET", "/v1/products", nil, "")
		ev.Headers["Authorization"] = tn.Token
		if r := apievent.Do(t, app.Handler.Handle, ev); r.Status != 200 {
			t.Fatalf("GET /v1/products = %+v", r)
		}
	}
	last := time.Now()

	// Silence: no request from now on. A loaded test machine gets 5 s of
	// slack over the flusher's own bound.
	ledger := store.NewLedger(store.NewClient(e.Config), e.Settings.CatalogTable)
	bound := every + check + 5*time.Second
	for {
		tot, err := ledger.Totals(context.Background(), tn.Record.TenantID, from, from.Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if tot.Requests == requests {
			t.Logf("the ledger shows the %d requests %v after the last one", requests, time.Since(last).Round(time.Millisecond))
			return
		}
		if tot.Requests > requests || time.Since(last) > bound {
			t.Fatalf("the ledger shows %d of %d requests %v after the last one, with no request since", tot.Requests, requests, time.Since(last).Round(time.Millisecond))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
