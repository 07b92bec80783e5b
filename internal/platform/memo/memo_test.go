package memo_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/memo"
)

func TestGetCachesUntilExpiry(t *testing.T) {
	now := time.Unix(1000, 0)
	c := memo.New[string, int](10, memo.WithClock(func() time.Time { return now }))
	loads := 0
	load := func(context.Context) (int, time.Time, error) { loads++; return loads, now.Add(time.Minute), nil }
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if v, _ := c.Get(ctx, "a", load); v != 1 {
			t.Fatalf("get %d = %d, want 1 (cached)", i, v)
		}
	}
	now = now.Add(time.Minute)
	if v, _ := c.Get(ctx, "a", load); v != 2 {
		t.Fatalf("after expiry = %d, want a reload", v)
	}
	if s := c.Stats(); s.Hits != 2 || s.Loads != 2 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestErrorsAreNotCached(t *testing.T) {
	c := memo.New[string, int](10)
	boom := errors.New("boom")
	calls := 0
	load := func(context.Context) (int, time.Time, error) {
		calls++
		if calls == 1 {
			return 0, time.Now().Add(time.Hour), boom
		}
		return 7, time.Now().Add(time.Hour), nil
	}
	if _, err := c.Get(context.Background(), "k", load); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if v, err := c.Get(context.Background(), "k", load); err != nil || v != 7 {
		t.Fatalf("second get = %d, %v", v, err)
	}
}

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	c := memo.New[int, int](2)
	ctx := context.Background()
	val := func(v int) memo.Loader[int] {
		return func(context.Context) (int, time.Time, error) { return v, time.Now().Add(time.Hour), nil }
	}
	c.Get(ctx, 1, val(1))
	c.Get(ctx, 2, val(2))
	c.Get(ctx, 1, val(-1)) // touch 1
	c.Get(ctx, 3, val(3))  // evicts 2
	if c.Len() != 2 {
		t.Fatalf("len = %d, want 2", c.Len())
	}
	if v, _ := c.Get(ctx, 1, val(-1)); v != 1 {
		t.Fatalf("1 was evicted")
	}
	if v, _ := c.Get(ctx, 2, val(22)); v != 22 {
		t.Fatalf("2 was not evicted")
	}
}

func TestConcurrentMissesLoadOnce(t *testing.T) {
	c := memo.New[string, int](10)
	var loads atomic.Int32
	release := make(chan struct{})
	load := func(context.Context) (int, time.Time, error) {
		loads.Add(1)
		<-release
		return 42, time.Now().Add(time.Hour), nil
	}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := c.Get(context.Background(), "t", load); v != 42 || err != nil {
				t.Errorf("get = %d, %v", v, err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Fatalf("loads = %d, want 1", n)
	}
}

// clock is a settable time source, safe for the refresh goroutines.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.ns.Store(t.UnixNano()); return c }
func (c *clock) now() time.Time   { return time.Unix(0, c.ns.Load()) }
func (c *clock) set(t time.Time)  { c.ns.Store(t.UnixNano()) }

// gatedLoader returns 1, 2, 3, ... each fresh for a minute from the clock's
// time; a load waits for a value on gate when gated, and reports on started.
type gatedLoader struct {
	clk     *clock
	n       atomic.Int32
	gated   atomic.Bool
	gate    chan error
	started chan struct{}
}

func newGatedLoader(clk *clock) *gatedLoader {
	return &gatedLoader{clk: clk, gate: make(chan error), started: make(chan struct{}, 10)}
}

func (l *gatedLoader) load(context.Context) (int, time.Time, error) {
	l.started <- struct{}{}
	if l.gated.Load() {
		if err := <-l.gate; err != nil {
			return 0, time.Time{}, err
		}
	}
	return int(l.n.Add(1)), l.clk.now().Add(time.Minute), nil
}

// getWithin fails the test if Get does not return within a second (that is,
// if it waited for a gated load).
func getWithin(t *testing.T, c *memo.Cache[string, int], load memo.Loader[int]) int {
	t.Helper()
	type res struct {
		v   int
		err error
	}
	ch := make(chan res, 1)
	go func() { v, err := c.Get(context.Background(), "k", load); ch <- res{v, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Get: %v", r.err)
		}
		return r.v
	case <-time.After(time.Second):
		t.Fatal("Get waited for a load")
		return 0
	}
}

// waitFor polls until cond holds, for up to a second.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRefreshAheadReloadsBeforeExpiryOffTheCallersPath(t *testing.T) {
	t0 := time.Unix(1000, 0)
	clk := newClock(t0)
	c := memo.New[string, int](10, memo.WithClock(clk.now), memo.WithRefreshAhead(10*time.Second))
	l := newGatedLoader(clk)
	if v := getWithin(t, c, l.load); v != 1 {
		t.Fatalf("first Get = %d, want 1", v)
	}
	<-l.started
	clk.set(t0.Add(49 * time.Second)) // 11 s of freshness left: no refresh
	if v := getWithin(t, c, l.load); v != 1 || c.Stats().Refreshes != 0 {
		t.Fatalf("Get at 49 s = %d with %d refreshes, want 1 and none", v, c.Stats().Refreshes)
	}
	l.gated.Store(true)
	clk.set(t0.Add(51 * time.Second)) // inside the window: refresh, but answer now
	if v := getWithin(t, c, l.load); v != 1 {
		t.Fatalf("Get at 51 s = %d, want the cached 1 while the refresh runs", v)
	}
	<-l.started
	clk.set(t0.Add(52 * time.Second))
	if v := getWithin(t, c, l.load); v != 1 {
		t.Fatalf("second Get during the refresh = %d, want 1", v)
	}
	l.gate <- nil
	waitFor(t, "the refresh to end", func() bool { return c.Stats().InFlight == 0 })
	if v := getWithin(t, c, l.load); v != 2 {
		t.Fatalf("Get after the refresh = %d, want the refreshed 2", v)
	}
	if s := c.Stats(); s.Loads != 2 || s.Refreshes != 1 || s.InFlight != 0 {
		t.Fatalf("stats = %+v, want 2 loads of which 1 refresh", s)
	}
	// The refreshed entry is fresh for a minute from its load (52 s).
	clk.set(t0.Add(100 * time.Second))
	if v := getWithin(t, c, l.load); v != 2 || c.Stats().Loads != 2 {
		t.Fatalf("Get at 100 s = %d after %d loads, want 2 from the refresh", v, c.Stats().Loads)
	}
}

// hangingRefresh returns a cache (refresh window 10 s) whose entry, loaded
// as 1 at t0 and fresh for a minute, is being refreshed at t0+55 s by a
// load that waits on l.gate.
func hangingRefresh(t *testing.T) (*memo.Cache[string, int], *clock, *gatedLoader, time.Time) {
	t.Helper()
	t0 := time.Unix(1000, 0)
	clk := newClock(t0)
	c := memo.New[string, int](10, memo.WithClock(clk.now), memo.WithRefreshAhead(10*time.Second))
	l := newGatedLoader(clk)
	getWithin(t, c, l.load)
	<-l.started
	l.gated.Store(true)
	clk.set(t0.Add(55 * time.Second))
	getWithin(t, c, l.load) // starts the refresh, which hangs
	<-l.started
	return c, clk, l, t0
}

func TestRefreshAheadNeverServesAnExpiredEntry(t *testing.T) {
	c, clk, l, t0 := hangingRefresh(t)
	clk.set(t0.Add(61 * time.Second)) // expired
	got := make(chan int, 1)
	go func() { v, _ := c.Get(context.Background(), "k", l.load); got <- v }()
	select {
	case v := <-got:
		t.Fatalf("Get after expiry returned %d without waiting for the load", v)
	case <-time.After(50 * time.Millisecond):
	}
	l.gate <- nil
	if v := <-got; v != 2 {
		t.Fatalf("Get after expiry = %d, want 2 from the refresh it joined", v)
	}
	if n := c.Stats().Loads; n != 2 {
		t.Fatalf("loads = %d, want 2: the expired Get joins the refresh", n)
	}
}

func TestFailedRefreshKeepsTheEntryUntilItExpires(t *testing.T) {
	c, clk, l, t0 := hangingRefresh(t)
	l.gate <- errors.New("throttled")
	waitFor(t, "the failed refresh to end", func() bool { return c.Stats().InFlight == 0 })
	clk.set(t0.Add(58 * time.Second))
	if v := getWithin(t, c, l.load); v != 1 {
		t.Fatalf("Get after a failed refresh = %d, want the entry (1) until it expires", v)
	}
	if s := c.Stats(); s.Refreshes != 1 {
		t.Fatalf("refreshes = %d, want 1: one attempt per entry", s.Refreshes)
	}
	l.gated.Store(false)
	clk.set(t0.Add(60 * time.Second))
	if v := getWithin(t, c, l.load); v != 2 {
		t.Fatalf("Get at expiry = %d, want a fresh load (2)", v)
	}
}

func TestForgetDropsARefreshInFlight(t *testing.T) {
	c, _, l, _ := hangingRefresh(t)
	c.Forget("k") // e.g. the tenant was just suspended here
	l.gate <- nil
	waitFor(t, "the refresh to end", func() bool { return c.Stats().InFlight == 0 })
	if c.Len() != 0 {
		t.Fatal("the refresh begun before Forget was kept")
	}
	l.gated.Store(false)
	if v := getWithin(t, c, l.load); v != 3 {
		t.Fatalf("Get after Forget = %d, want a new load (3), not the refresh begun before it", v)
	}
}

// BenchmarkGet measures the hit path, which every request takes.
func BenchmarkGet(b *testing.B) {
	c := memo.New[string, int](1024)
	ctx := context.Background()
	load := func(context.Context) (int, time.Time, error) { return 1, time.Now().Add(time.Hour), nil }
	if _, err := c.Get(ctx, "k", load); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Get(ctx, "k", load); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetParallel(b *testing.B) {
	c := memo.New[int, int](1024)
	ctx := context.Background()
	load := func(context.Context) (int, time.Time, error) { return 1, time.Now().Add(time.Hour), nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if _, err := c.Get(ctx, i%64, load); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

var errThrottled = errors.New("throttled")

// The rule (package doc): a Get that joined another caller's load and sees
// it fail, for whatever reason, loads for itself while its own context is
// live; the caller that ran the failed load gets its own error.
func TestWaiterLoadsForItselfWhenTheLoadItJoinedFails(t *testing.T) {
	tests := []struct {
		name string
		// fail ends the leader's load: by cancelling the leader's context,
		// or by handing the load an error.
		fail       func(cancelLeader context.CancelFunc, gate chan<- error)
		wantLeader error
	}{
		{"leader's context cancelled", func(cancel context.CancelFunc, _ chan<- error) { cancel() }, context.Canceled},
		{"leader's deadline passed", func(_ context.CancelFunc, gate chan<- error) {
			gate <- fmt.Errorf("get tenant: %w", context.DeadlineExceeded)
		}, context.DeadlineExceeded},
		{"leader's load failed", func(_ context.CancelFunc, gate chan<- error) { gate <- errThrottled }, errThrottled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := memo.New[string, int](10)
			gate := make(chan error)
			started := make(chan struct{})
			var loads atomic.Int32
			load := func(ctx context.Context) (int, time.Time, error) {
				n := loads.Add(1)
				if n == 1 { // the leader's load waits to be failed
					close(started)
					select {
					case err := <-gate:
						return 0, time.Time{}, err
					case <-ctx.Done():
						return 0, time.Time{}, ctx.Err()
					}
				}
				return int(n), time.Now().Add(time.Hour), nil
			}
			leaderCtx, cancel := context.WithCancel(context.Background())
			defer cancel()
			leader := make(chan error, 1)
			go func() { _, err := c.Get(leaderCtx, "k", load); leader <- err }()
			<-started
			type res struct {
				v   int
				err error
			}
			waiter := make(chan res, 1)
			go func() { v, err := c.Get(context.Background(), "k", load); waiter <- res{v, err} }()
			waitFor(t, "the waiter to join the load", func() bool { return c.Stats().Misses == 2 })

			tt.fail(cancel, gate)
			if err := <-leader; !errors.Is(err, tt.wantLeader) {
				t.Fatalf("leader: %v, want its own %v", err, tt.wantLeader)
			}
			if r := <-waiter; r.err != nil || r.v != 2 {
				t.Fatalf("waiter: %d, %v; want 2 from a load of its own", r.v, r.err)
			}
			if v := getWithin(t, c, load); v != 2 {
				t.Fatalf("Get after = %d, want the waiter's value (2) cached", v)
			}
			if s := c.Stats(); s.Loads != 2 || s.Shared != 0 {
				t.Fatalf("stats = %+v, want 2 loads, none shared", s)
			}
		})
	}
}

// A failed refresh ahead of expiry never makes a Get fail: while the entry
// is fresh Gets are served from it, and a Get that waits for the refresh
// (the entry expired or was evicted) loads for itself when it fails.
func TestFailedRefreshNeverFailsAGet(t *testing.T) {
	expire := func(_ *memo.Cache[string, int], clk *clock, t0 time.Time) { clk.set(t0.Add(61 * time.Second)) }
	evict := func(c *memo.Cache[string, int], clk *clock, _ time.Time) {
		other := func(context.Context) (int, time.Time, error) { return -1, clk.now().Add(time.Minute), nil }
		for i := range 10 { // the cache holds 10: "k" is the least recently used
			if _, err := c.Get(context.Background(), fmt.Sprint("other-", i), other); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name string
		// meanwhile happens to the entry while its refresh hangs.
		meanwhile func(*memo.Cache[string, int], *clock, time.Time)
		err       error // the refresh's
		want      int   // the Get's value: 1 from the entry, 2 from its own load
		wantLoads int64
	}{
		{"fails, entry fresh", nil, errThrottled, 1, 2},
		{"fails, entry expired", expire, errThrottled, 2, 3},
		{"times out, entry expired", expire, fmt.Errorf("get tenant: %w", context.DeadlineExceeded), 2, 3},
		{"fails, entry evicted while fresh", evict, errThrottled, 2, 3 + 10}, // 10 loads of other keys
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clk, l, t0 := hangingRefresh(t)
			if tt.meanwhile != nil {
				tt.meanwhile(c, clk, t0)
			}
			type res struct {
				v   int
				err error
			}
			got := make(chan res, 1)
			s := c.Stats()
			go func() { v, err := c.Get(context.Background(), "k", l.load); got <- res{v, err} }()
			waitFor(t, "the Get", func() bool { n := c.Stats(); return n.Hits+n.Misses > s.Hits+s.Misses })
			l.gated.Store(false)
			l.gate <- tt.err
			if r := <-got; r.err != nil || r.v != tt.want {
				t.Fatalf("Get = %d, %v; want %d", r.v, r.err, tt.want)
			}
			waitFor(t, "the refresh to end", func() bool { return c.Stats().InFlight == 0 })
			if v := getWithin(t, c, l.load); v != tt.want {
				t.Fatalf("Get after the failed refresh = %d, want %d", v, tt.want)
			}
			if s := c.Stats(); s.Loads != tt.wantLoads || s.Refreshes != 1 {
				t.Fatalf("stats = %+v, want %d loads, 1 refresh", s, tt.wantLoads)
			}
		})
	}
}

// Forget during a load wins: its result is not kept, and a Get after the
// Forget does not get it either, nor wait for it.
func TestForgetDuringALoadWins(t *testing.T) {
	c := memo.New[string, int](10)
	gate := make(chan struct{})
	started := make(chan struct{})
	var loads atomic.Int32
	load := func(context.Context) (int, time.Time, error) {
		n := loads.Add(1)
		if n == 1 {
			close(started)
			<-gate
		}
		return int(n), time.Now().Add(time.Hour), nil
	}
	before := make(chan int, 1)
	go func() { v, _ := c.Get(context.Background(), "k", load); before <- v }()
	<-started
	c.Forget("k") // e.g. the tenant was just suspended here
	if v := getWithin(t, c, load); v != 2 {
		t.Fatalf("Get after Forget = %d, want a load of its own (2)", v)
	}
	close(gate)
	if v := <-before; v != 1 {
		t.Fatalf("Get before Forget = %d, want its own load's 1", v)
	}
	if v := getWithin(t, c, load); v != 2 {
		t.Fatalf("Get = %d, want 2: the load begun before Forget was kept", v)
	}
}

func TestMaxUses(t *testing.T) {
	tests := []struct {
		name      string
		maxUses   int
		set       bool // start with a Set, which spends no use
		calls     int
		wantLoads int32
	}{
		{"no limit", 0, false, 20, 1},
		{"limit reached", 5, false, 5, 1},
		{"limit exceeded", 5, false, 6, 2},
		{"one use each", 1, false, 4, 4},
		{"many rounds", 3, false, 10, 4},
		{"set spends none", 3, true, 3, 0},
		{"set, then loads", 3, true, 4, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := memo.New[string, int](10, memo.WithMaxUses(tt.maxUses))
			var loads atomic.Int32
			load := func(context.Context) (int, time.Time, error) {
				return int(loads.Add(1)), time.Now().Add(time.Hour), nil
			}
			if tt.set {
				c.Set("k", 0, time.Now().Add(time.Hour))
			}
			for range tt.calls {
				if _, err := c.Get(context.Background(), "k", load); err != nil {
					t.Fatal(err)
				}
			}
			if n := loads.Load(); n != tt.wantLoads {
				t.Fatalf("%d loads, want %d", n, tt.wantLoads)
			}
		})
	}
}

// The Gets that wait for a load spend its uses too: 50 concurrent Gets of
// entries good for 10 uses each make 5 loads.
func TestMaxUsesCountsWaiters(t *testing.T) {
	c := memo.New[string, int](10, memo.WithMaxUses(10))
	var loads atomic.Int32
	release := make(chan struct{})
	load := func(context.Context) (int, time.Time, error) {
		if loads.Add(1) == 1 {
			<-release
		}
		return 1, time.Now().Add(time.Hour), nil
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := c.Get(context.Background(), "k", load); err != nil {
				t.Error(err)
			}
		})
	}
	waitFor(t, "the Gets to queue", func() bool { return c.Stats().Misses == 50 })
	close(release)
	wg.Wait()
	if n := loads.Load(); n != 5 {
		t.Fatalf("%d loads, want 5", n)
	}
	if s := c.Stats(); s.Shared != 45 || s.Loads != 5 {
		t.Fatalf("stats = %+v, want 45 shared and 5 loads", s)
	}
}

// Lookup answers only what a Get would answer at once from the cache.
func TestLookup(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name   string
		at     time.Duration // after the load, fresh for a minute
		uses   int           // WithMaxUses
		gets   int           // Gets before the Lookup, the load included
		wantOK bool
	}{
		{"fresh", 30 * time.Second, 0, 1, true},
		{"expired", time.Minute, 0, 1, false},
		{"refresh due", 55 * time.Second, 0, 1, false},
		{"uses left", 0, 3, 2, true},
		{"uses spent", 0, 3, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock(t0)
			c := memo.New[string, int](10, memo.WithClock(clk.now), memo.WithRefreshAhead(10*time.Second), memo.WithMaxUses(tt.uses))
			l := newGatedLoader(clk)
			for range tt.gets {
				getWithin(t, c, l.load)
			}
			clk.set(t0.Add(tt.at))
			before := c.Stats()
			v, ok := c.Lookup("k")
			if ok != tt.wantOK || ok && v != 1 {
				t.Fatalf("Lookup = %d, %t; want ok %t", v, ok, tt.wantOK)
			}
			after := c.Stats()
			wantHits := before.Hits
			if ok {
				wantHits++
			}
			if after.Hits != wantHits || after.Misses != before.Misses || after.Loads != before.Loads {
				t.Fatalf("stats %+v after %+v: a Lookup counts a hit, or nothing", after, before)
			}
		})
	}
}
