package memo_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/memo"
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
