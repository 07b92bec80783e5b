package tenantapi_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/app/tenantapi"
	"github.com/tessera-saas/tessera/internal/platform/metering"
)

// hangingLedger never answers until its context ends: a ledger write that
// stalls (a DynamoDB endpoint that accepts the connection and never
// replies), which the emulator cannot be made to do on demand.
type hangingLedger struct{ calls chan struct{} }

func (l hangingLedger) Record(ctx context.Context, _ string, _ []metering.Usage) ([]metering.Usage, error) {
	l.calls <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestUsageFlushHasADeadline: a flush of the usage ledger ends within its
// deadline (Metering.FlushTimeout, metering.FlushTimeout by default) even
// when the caller's context has none and the ledger hangs, and the totals
// it could not write stay pending.
func TestUsageFlushHasADeadline(t *testing.T) {
	agg := metering.NewAggregator(time.Minute)
	agg.Add(metering.Record{TenantID: "t-a", Time: time.Now(), Requests: 3})
	ledger := hangingLedger{calls: make(chan struct{}, 10)}
	h := tenantapi.New(nil, nil, nil, slog.New(slog.DiscardHandler)).
		WithMetering(&tenantapi.Metering{Aggregator: agg, Ledger: ledger, Writer: "w-1", FlushTimeout: 200 * time.Millisecond})

	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- h.FlushUsage(context.Background()) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("FlushUsage = %v, want its deadline exceeded", err)
		}
		t.Logf("flush against a hanging ledger ended after %v", time.Since(start).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatalf("FlushUsage still running after %v against a hanging ledger: the flush has no deadline", time.Since(start).Round(time.Second))
	}
	if d := agg.Dirty(); len(d) != 1 || d[0].Requests != 3 {
		t.Fatalf("pending after the failed flush: %v, want t-a's 3 requests", d)
	}
}
