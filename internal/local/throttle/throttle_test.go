package throttle_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/local/throttle"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/plan"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time         { return c.t }
func (c *clock) add(d time.Duration)    { c.t = c.t.Add(d) }
func limits(t catalog.Tier) plan.Limits { l, _ := plan.For(t); return l }

func TestBucket(t *testing.T) {
	small := plan.Limits{RateLimit: 2, BurstLimit: 4, MonthlyQuota: 1000}
	cases := []struct {
		name string
		// steps: advance the clock, then make n requests
		steps []struct {
			advance time.Duration
			n       int
		}
		wantAllowed int
		wantRetry   time.Duration // of the last refused request, 0 if none refused
	}{
		{"burst is allowed at once", []struct {
			advance time.Duration
			n       int
		}{{0, 4}}, 4, 0},
		{"beyond burst is refused", []struct {
			advance time.Duration
			n       int
		}{{0, 6}}, 4, time.Second},
		{"tokens refill at the rate", []struct {
			advance time.Duration
			n       int
		}{{0, 4}, {time.Second, 3}}, 6, time.Second},
		{"refill stops at burst", []struct {
			advance time.Duration
			n       int
		}{{0, 4}, {time.Hour, 5}}, 8, time.Second},
		{"half a token left: retry after rounds up to a second", []struct {
			advance time.Duration
			n       int
		}{{0, 4}, {250 * time.Millisecond, 1}}, 4, time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
			l := throttle.New(throttle.WithClock(c.now))
			allowed := 0
			var retry time.Duration
			for _, s := range tc.steps {
				c.add(s.advance)
				for i := 0; i < s.n; i++ {
					d := l.Allow("t-a", small)
					if d.Allowed {
						allowed++
						continue
					}
					if d.Code != throttle.CodeRateLimited {
						t.Fatalf("refused with %q, want %q", d.Code, throttle.CodeRateLimited)
					}
					retry = d.RetryAfter
				}
			}
			if allowed != tc.wantAllowed || retry != tc.wantRetry {
				t.Fatalf("allowed %d, retry-after %v; want %d, %v", allowed, retry, tc.wantAllowed, tc.wantRetry)
			}
			if got := l.Used("t-a"); got != int64(allowed) {
				t.Fatalf("Used = %d, want %d (refused requests do not count)", got, allowed)
			}
		})
	}
}

func TestSlowRateRetryAfter(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	l := throttle.New(throttle.WithClock(c.now))
	lim := plan.Limits{RateLimit: 0.25, BurstLimit: 1, MonthlyQuota: 10}
	if !l.Allow("t-a", lim).Allowed {
		t.Fatal("first request refused")
	}
	if d := l.Allow("t-a", lim); d.Allowed || d.RetryAfter != 4*time.Second {
		t.Fatalf("second = %+v, want refused with 4s (one token per 4 s)", d)
	}
}

func TestQuotaAndMonthRollover(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 30, 23, 59, 0, 0, time.UTC)}
	l := throttle.New(throttle.WithClock(c.now))
	lim := plan.Limits{RateLimit: 1000, BurstLimit: 1000, MonthlyQuota: 3}
	for i := 0; i < 3; i++ {
		if d := l.Allow("t-a", lim); !d.Allowed {
			t.Fatalf("request %d refused: %+v", i, d)
		}
	}
	d := l.Allow("t-a", lim)
	if d.Allowed || d.Code != throttle.CodeQuotaExceeded || d.RetryAfter != time.Minute {
		t.Fatalf("over quota = %+v, want quota_exceeded retry after 60s (until Dec 1)", d)
	}
	if !l.Allow("t-b", lim).Allowed {
		t.Fatal("another tenant is refused by t-a's quota")
	}
	c.add(time.Minute) // 2026-12-01T00:00:00Z: a new month
	if d := l.Allow("t-a", lim); !d.Allowed {
		t.Fatalf("first request of the new month refused: %+v", d)
	}
	if got := l.Used("t-a"); got != 1 {
		t.Fatalf("Used after rollover = %d, want 1", got)
	}
}

func TestTenantsAreIndependentAndTiersDiffer(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	l := throttle.New(throttle.WithClock(c.now))
	count := func(id string, lim plan.Limits, n int) int {
		ok := 0
		for i := 0; i < n; i++ {
			if l.Allow(id, lim).Allowed {
				ok++
			}
		}
		return ok
	}
	basic, premium := limits(catalog.TierBasic), limits(catalog.TierPremium)
	if got := count("t-flood", basic, 1000); got != basic.BurstLimit {
		t.Fatalf("basic flood got %d through, want its burst %d", got, basic.BurstLimit)
	}
	if got := count("t-calm", basic, basic.BurstLimit); got != basic.BurstLimit {
		t.Fatalf("a calm basic tenant got %d of %d through while another floods", got, basic.BurstLimit)
	}
	if got := count("t-big", premium, 1000); got != premium.BurstLimit {
		t.Fatalf("premium got %d through, want its burst %d", got, premium.BurstLimit)
	}
}

func TestConcurrentRequestsNeverExceedBurst(t *testing.T) {
	l := throttle.New(throttle.WithClock(func() time.Time { return time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC) }))
	lim := plan.Limits{RateLimit: 1, BurstLimit: 50, MonthlyQuota: 1 << 40}
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := map[string]int{}
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				id := fmt.Sprintf("t-%d", i%3)
				if l.Allow(id, lim).Allowed {
					mu.Lock()
					allowed[id]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for id, n := range allowed {
		if n != lim.BurstLimit {
			t.Errorf("%s: %d allowed, want exactly the burst %d", id, n, lim.BurstLimit)
		}
	}
	if len(allowed) != 3 {
		t.Fatalf("tenants seen: %v", allowed)
	}
}

func BenchmarkAllow(b *testing.B) {
	l := throttle.New()
	lim := limits(catalog.TierPremium)
	ids := make([]string, 10000)
	for i := range ids {
		ids[i] = fmt.Sprintf("t-%05d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.Allow(ids[i%len(ids)], lim)
	}
}
