package metering_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/metering"
)

// ledger keeps the largest total per (writer, tenant, hour), as the store's
// conditional write does, and records how many Records overlapped. It is a
// stub of the flusher's own Ledger interface: the store's Ledger is tested
// on the emulator (internal/control/usage); these tests are about when and
// how the flusher calls it, and about ledgers that hang or fail, which the
// emulator cannot be made to do on demand.
type ledger struct {
	mu            sync.Mutex
	totals        map[string]metering.Usage
	calls, active int
	maxActive     int
	// hang makes Record wait for its context to end; fail makes it fail.
	hang, fail bool
	delay      time.Duration
}

func newLedger() *ledger { return &ledger{totals: map[string]metering.Usage{}} }

func (l *ledger) Record(ctx context.Context, writer string, usages []metering.Usage) ([]metering.Usage, error) {
	l.mu.Lock()
	l.calls++
	l.active++
	l.maxActive = max(l.maxActive, l.active)
	hang, fail, delay := l.hang, l.fail, l.delay
	l.mu.Unlock()
	defer func() { l.mu.Lock(); l.active--; l.mu.Unlock() }()
	if hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	time.Sleep(delay)
	if fail {
		return nil, errors.New("ledger unavailable")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, u := range usages {
		k := writer + "/" + u.TenantID + "@" + u.Hour.Format(time.RFC3339)
		if u.Requests >= l.totals[k].Requests {
			l.totals[k] = u
		}
	}
	return usages, nil
}

func (l *ledger) requests() (n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, u := range l.totals {
		n += u.Requests
	}
	return n
}

func (l *ledger) stats() (calls, maxActive int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls, l.maxActive
}

var quietLog = slog.New(slog.DiscardHandler)

// Flushes never overlap, however many callers ask at once (the request path
// used to: every request arriving during a flush wrote the same totals
// again), and every request ends up counted exactly once.
func TestFlusherWritesOneFlushAtATime(t *testing.T) {
	a := metering.NewAggregator(0)
	l := newLedger()
	l.delay = time.Millisecond
	f := metering.NewFlusher(a, l, "w-1", time.Minute, quietLog)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			a.Add(rec("t-a", time.Now(), 1, 0, 0))
			if err := f.Flush(context.Background()); err != nil {
				t.Errorf("flush %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if err := f.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls, most := l.stats(); most != 1 {
		t.Fatalf("%d ledger writes overlapped (of %d), want one at a time", most, calls)
	}
	if n := l.requests(); n != 64 {
		t.Fatalf("ledger holds %d requests, want 64", n)
	}
	if d := a.Dirty(); len(d) != 0 {
		t.Fatalf("still pending after the last flush: %v", d)
	}
}

// Every flush ends within the flusher's timeout though the caller's context
// has no deadline and the ledger hangs; so does a flush that waits for it.
// What was not written stays pending.
func TestFlusherFlushHasADeadline(t *testing.T) {
	a := metering.NewAggregator(time.Minute)
	a.Add(rec("t-a", time.Now(), 3, 0, 0))
	l := newLedger()
	l.hang = true
	const timeout = 100 * time.Millisecond
	f := metering.NewFlusher(a, l, "w-1", timeout, quietLog)
	errs := make(chan error, 2)
	start := time.Now()
	for range 2 {
		go func() { errs <- f.Flush(context.Background()) }()
	}
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Flush = %v, want its deadline exceeded", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Flush still running after %v against a hanging ledger, timeout %v", time.Since(start).Round(time.Millisecond), timeout)
		}
	}
	if took := time.Since(start); took > 10*timeout {
		t.Fatalf("two flushes took %v, want each bounded by %v", took, timeout)
	}
	if d := a.Dirty(); len(d) != 1 || d[0].Requests != 3 {
		t.Fatalf("pending after the failed flushes: %v, want t-a's 3 requests", d)
	}
}

// Run writes what is due without any caller asking, keeps going after a
// failed flush, and when its context ends writes what is pending although
// it is not due yet.
func TestFlusherRun(t *testing.T) {
	t.Run("due totals are written on the timer", func(t *testing.T) {
		a := metering.NewAggregator(50 * time.Millisecond)
		l := newLedger()
		l.fail = true
		f := metering.NewFlusher(a, l, "w-1", time.Second, quietLog)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); f.Run(ctx, 10*time.Millisecond) }()
		defer func() { cancel(); <-done }()
		a.Add(rec("t-a", time.Now(), 2, 0, 0))
		waitUntil(t, "a failed flush", func() bool { calls, _ := l.stats(); return calls >= 1 })
		l.mu.Lock()
		l.fail = false
		l.mu.Unlock()
		waitUntil(t, "the retried flush to write t-a's 2 requests", func() bool { return l.requests() == 2 })
	})
	t.Run("pending totals are written when it stops", func(t *testing.T) {
		a := metering.NewAggregator(time.Hour) // never due during the test
		l := newLedger()
		f := metering.NewFlusher(a, l, "w-1", time.Second, quietLog)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); f.Run(ctx, 10*time.Millisecond) }()
		a.Add(rec("t-a", time.Now(), 5, 0, 0))
		time.Sleep(30 * time.Millisecond)
		if n := l.requests(); n != 0 {
			t.Fatalf("ledger holds %d requests before the interval passed", n)
		}
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
		if n := l.requests(); n != 5 {
			t.Fatalf("ledger holds %d requests after Run stopped, want the 5 pending", n)
		}
	})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
