package crypto

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// loads counts the loads of test data keys.
type loads struct{ n atomic.Int64 }

func (l *loads) load(context.Context) (*dataKey, error) {
	l.n.Add(1)
	return &dataKey{}, nil
}

func TestKeyCacheLimits(t *testing.T) {
	ctx := context.Background()
	k := cacheKey{tenantID: "t-1", keyID: "key"}
	tests := []struct {
		name      string
		maxUses   int
		calls     int
		step      time.Duration // clock advance before each call
		wantLoads int64
	}{
		{"one load while fresh", 0, 100, time.Second, 1},
		{"max uses reached", 10, 10, 0, 1},
		{"max uses exceeded", 10, 11, 0, 2},
		{"max uses, many rounds", 3, 10, 0, 4},
		{"max age not reached", 0, 300, time.Second - time.Nanosecond, 1},
		{"max age reached", 0, 301, time.Second, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			c := newKeyCache(5*time.Minute, tt.maxUses, 10, clk.Now)
			var l loads
			for i := range tt.calls {
				if i > 0 {
					clk.Advance(tt.step)
				}
				if _, err := c.get(ctx, k, l.load); err != nil {
					t.Fatal(err)
				}
			}
			if got := l.n.Load(); got != tt.wantLoads {
				t.Fatalf("%d loads, want %d", got, tt.wantLoads)
			}
			if hits, misses := c.stats(); misses != tt.wantLoads || hits+misses != int64(tt.calls) {
				t.Fatalf("hits %d misses %d for %d calls", hits, misses, tt.calls)
			}
		})
	}
}

func TestKeyCacheEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	c := newKeyCache(time.Hour, 0, 3, time.Now)
	var l loads
	key := func(i int) cacheKey { return cacheKey{tenantID: string(rune('a' + i)), keyID: "k"} }
	for i := range 3 {
		_, _ = c.get(ctx, key(i), l.load)
	}
	_, _ = c.get(ctx, key(0), l.load) // a is now the most recent; b the least
	_, _ = c.get(ctx, key(3), l.load) // evicts b
	if c.len() != 3 {
		t.Fatalf("cache holds %d keys, want 3", c.len())
	}
	before := l.n.Load()
	_, _ = c.get(ctx, key(0), l.load)
	_, _ = c.get(ctx, key(2), l.load)
	if l.n.Load() != before {
		t.Fatal("recently used keys were evicted")
	}
	_, _ = c.get(ctx, key(1), l.load)
	if l.n.Load() != before+1 {
		t.Fatal("least recently used key was not evicted")
	}
}

func TestKeyCacheConcurrentMissesLoadOnce(t *testing.T) {
	c := newKeyCache(time.Hour, 0, 10, time.Now)
	release := make(chan struct{})
	var n atomic.Int64
	load := func(context.Context) (*dataKey, error) {
		n.Add(1)
		<-release
		return &dataKey{}, nil
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := c.get(context.Background(), cacheKey{tenantID: "t"}, load); err != nil {
				t.Error(err)
			}
		})
	}
	time.Sleep(20 * time.Millisecond) // let the goroutines queue behind the load
	close(release)
	wg.Wait()
	if n.Load() != 1 {
		t.Fatalf("%d loads, want 1", n.Load())
	}
}

func TestKeyCacheErrors(t *testing.T) {
	c := newKeyCache(time.Hour, 0, 10, time.Now)
	k := cacheKey{tenantID: "t"}
	boom := errors.New("boom")
	if _, err := c.get(context.Background(), k, func(context.Context) (*dataKey, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	var l loads
	if _, err := c.get(context.Background(), k, l.load); err != nil || l.n.Load() != 1 {
		t.Fatalf("error was cached: %v, %d loads", err, l.n.Load())
	}
}

// A waiter must not inherit the cancellation of the caller that loads, nor
// its failure: a waiter whose context is live loads for itself (package
// memo's rule). The old data-key cache returned KMS errors to every waiter.
func TestKeyCacheWaiterLoadsForItself(t *testing.T) {
	throttled := errors.New("throttling exception")
	tests := []struct {
		name string
		// loader is the first caller's load; end makes it return.
		loader func(end <-chan struct{}) func(context.Context) (*dataKey, error)
		// cancelLoader: end also cancels the first caller's context.
		cancelLoader bool
		want         error
	}{
		{"loader cancelled", func(<-chan struct{}) func(context.Context) (*dataKey, error) {
			return func(ctx context.Context) (*dataKey, error) { <-ctx.Done(); return nil, ctx.Err() }
		}, true, context.Canceled},
		{"loader failed", func(end <-chan struct{}) func(context.Context) (*dataKey, error) {
			return func(context.Context) (*dataKey, error) { <-end; return nil, throttled }
		}, false, throttled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newKeyCache(time.Hour, 0, 10, time.Now)
			k := cacheKey{tenantID: "t"}
			loaderCtx, cancel := context.WithCancel(context.Background())
			defer cancel()
			started, end := make(chan struct{}), make(chan struct{})
			load := tc.loader(end)
			loaderDone := make(chan error)
			go func() {
				_, err := c.get(loaderCtx, k, func(ctx context.Context) (*dataKey, error) {
					close(started)
					return load(ctx)
				})
				loaderDone <- err
			}()
			<-started
			var l loads
			waiterDone := make(chan error)
			go func() {
				_, err := c.get(context.Background(), k, l.load)
				waiterDone <- err
			}()
			time.Sleep(10 * time.Millisecond)
			if tc.cancelLoader {
				cancel()
			}
			close(end)
			if err := <-loaderDone; !errors.Is(err, tc.want) {
				t.Fatalf("loader: %v, want %v", err, tc.want)
			}
			if err := <-waiterDone; err != nil || l.n.Load() != 1 {
				t.Fatalf("waiter: %v after %d loads, want its own load", err, l.n.Load())
			}
		})
	}
}
