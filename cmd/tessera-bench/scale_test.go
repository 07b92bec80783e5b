package main

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// The scale model's pieces, each against what it models. No emulator: these
// are plain unit tests, and fast.

func TestZipfRatesFollowTheLawUnderTheCap(t *testing.T) {
	r := zipfRates(1000, 1, 500, 0)
	var sum float64
	for _, x := range r {
		sum += x
	}
	if math.Abs(sum-500) > 1e-6 {
		t.Fatalf("rates sum to %g, want 500", sum)
	}
	for _, k := range []int{1, 9, 99} { // rank k+1 against rank 1: 1/(k+1)
		if got, want := r[k]/r[0], 1/float64(k+1); math.Abs(got-want) > 1e-9 {
			t.Errorf("rate of rank %d / rank 1 = %g, want %g", k+1, got, want)
		}
	}
	// s = 1.2: rank 2 gets 2^-1.2 of rank 1.
	if r := zipfRates(10, 1.2, 1, 0); math.Abs(r[1]/r[0]-math.Pow(2, -1.2)) > 1e-9 {
		t.Errorf("s=1.2: rank 2 / rank 1 = %g", r[1]/r[0])
	}

	// With a cap: nobody above it, the total kept, the order kept, and the
	// uncapped ones still in Zipf proportion to each other.
	r = zipfRates(100_000, 1, 10_000, 200)
	sum = 0
	capped := 0
	for i, x := range r {
		sum += x
		if x > 200*(1+1e-9) {
			t.Fatalf("tenant %d gets %g req/s, above the cap", i, x)
		}
		if i > 0 && x > r[i-1]*(1+1e-12) {
			t.Fatalf("tenant %d gets more than tenant %d", i, i-1)
		}
		if x >= 200*(1-1e-9) {
			capped++
		}
	}
	if math.Abs(sum-10_000) > 1e-6 {
		t.Fatalf("capped rates sum to %g, want 10000", sum)
	}
	if capped == 0 || r[capped]/r[capped+9] < 1 {
		t.Fatalf("%d capped", capped)
	}
	if got, want := r[capped+9]/r[capped], float64(capped+1)/float64(capped+10); math.Abs(got-want) > 1e-9 {
		t.Errorf("uncapped tenants out of proportion: %g, want %g", got, want)
	}
}

func TestSamplerDrawsInProportionToTheWeights(t *testing.T) {
	s := newSampler([]float64{1, 2, 3, 4})
	if s.draw(0) != 0 || s.draw(0.0999) != 0 || s.draw(0.1001) != 1 || s.draw(0.9999999) != 3 {
		t.Fatal("draw does not invert the cumulative distribution")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 200_000
	var got [4]int
	for i := 0; i < n; i++ {
		got[s.draw(rng.Float64())]++
	}
	for i, c := range got {
		want := float64(i+1) / 10
		if share := float64(c) / n; math.Abs(share-want) > 0.005 {
			t.Errorf("index %d drawn %.4f of the time, want %.2f", i, share, want)
		}
	}
	// Over Zipf rates, the top tenant's share is 1/H(n).
	z := newSampler(zipfRates(1000, 1, 1, 0))
	top := 0
	for i := 0; i < n; i++ {
		if z.draw(rng.Float64()) == 0 {
			top++
		}
	}
	var h float64
	for k := 1; k <= 1000; k++ {
		h += 1 / float64(k)
	}
	if share := float64(top) / n; math.Abs(share-1/h) > 0.004 {
		t.Errorf("top tenant drawn %.4f of the time, want %.4f", share, 1/h)
	}
}

// cellOf itself is cell.Index (tested there); the sizing rule is here.
func TestCellsForSizesByTenantsAndRate(t *testing.T) {
	for _, c := range []struct {
		tenants int
		rps     float64
		want    int
	}{{100, 10, 1}, {10_000, 1_000, 4}, {100_000, 10_000, 40}, {10_000, 3_000, 8}} {
		if got := cellsFor(c.tenants, c.rps); got != c.want {
			t.Errorf("cellsFor(%d tenants, %g req/s) = %d, want %d", c.tenants, c.rps, got, c.want)
		}
	}
}

func TestIndexMatchesAMap(t *testing.T) {
	var x index
	ref := map[uint32]int32{}
	rng := rand.New(rand.NewPCG(3, 4))
	for step := 0; step < 200_000; step++ {
		k := uint32(rng.IntN(3000)) * 1024 // keys with equal low bits
		switch rng.IntN(3) {
		case 0, 1:
			v := int32(rng.IntN(1 << 20))
			x.set(k, v)
			ref[k] = v
		case 2:
			x.remove(k)
			delete(ref, k)
		}
		if x.n != len(ref) {
			t.Fatalf("step %d: %d entries, want %d", step, x.n, len(ref))
		}
		probe := uint32(rng.IntN(3000)) * 1024
		want, ok := ref[probe]
		if !ok {
			want = -1
		}
		if got := x.find(probe); got != want {
			t.Fatalf("step %d: find(%d) = %d, want %d", step, probe, got, want)
		}
	}
}

func TestLRUExpiresEvictsAndPurgesLikeMemo(t *testing.T) {
	c := newLRU(3)
	c.put(1, 100)
	c.put(2, 200)
	c.put(3, 300)
	if c.get(1, 50) < 0 { // 1 is now the most recently used
		t.Fatal("fresh entry missed")
	}
	c.put(4, 400) // evicts 2, the least recently used
	if c.get(2, 60) >= 0 || c.len() != 3 {
		t.Fatalf("2 should have been evicted (len %d)", c.len())
	}
	if c.get(1, 100) >= 0 { // at its expiry: a miss that removes it
		t.Fatal("entry served at its expiry (memo serves only before it)")
	}
	if c.len() != 2 {
		t.Fatalf("expired entry kept: len %d", c.len())
	}
	// purge removes expired entries from the old end only, and stops at
	// the first fresh one.
	c = newLRU(10)
	c.put(1, 10) // oldest, expired at 20
	c.put(2, 50) // fresh at 20
	c.put(3, 15) // expired at 20 but more recently used than 2
	c.purge(20)
	if c.len() != 2 || c.index.find(1) >= 0 || c.index.find(3) < 0 {
		t.Fatalf("purge removed the wrong entries: len %d", c.len())
	}
}

// testCell is a cell with one tenant and its own clock, for the cache model.
func testCell(mix requestMix) (*cellSim, *scaleConfig) {
	cfg := defaultScale(1)
	cfg.Mix = mix
	cfg.Lambda.LifeMin, cfg.Lambda.LifeMax = 100*time.Hour, 100*time.Hour
	cfg.Lambda.IdleMin, cfg.Lambda.IdleMax = 100*time.Hour, 100*time.Hour
	cfg.Horizon = 5 * time.Hour
	return newCellSim(&cfg, []float64{1}, 1), &cfg
}

// requestsEvery sends one request of tenant 0 every interval for span and
// returns the per-second counts.
func requestsEvery(c *cellSim, interval, span time.Duration) *counts {
	for t := int64(0); t < usec(span); t += usec(interval) {
		c.pool.release(t)
		e := c.pool.acquire(t)
		d := c.serve(e, t, t/1e6, 0)
		c.pool.start(e, t+d)
	}
	return c.n
}

func total(xs []int32) (n int) {
	for _, x := range xs {
		n += int(x)
	}
	return n
}

func TestCredentialsAreAssumedAsTheSDKCacheAndTheProviderTTLDo(t *testing.T) {
	c, cfg := testCell(requestMix{}) // no sealed fields
	n := requestsEvery(c, time.Second, 3*time.Hour)
	// One environment, one tenant: AssumeRole at 0, then each time the
	// credentials are 4-5 minutes from the end of their hour (about every
	// 55.5 min), and again when the provider is dropped 2 hours after it
	// was made: 0, ~55.5, ~111, 120, ~175.5 min.
	var at []int
	for s, x := range n.sts {
		for ; x > 0; x-- {
			at = append(at, s)
		}
	}
	if len(at) != 5 {
		t.Fatalf("AssumeRole at %v s, want 5 calls in 3 h", at)
	}
	lo, hi := int(usec(cfg.Caches.Session-cfg.Caches.Window)/1e6), int(usec(cfg.Caches.Session-time.Duration(float64(cfg.Caches.Window)*(1-cfg.Caches.Jitter)))/1e6)
	for i, want := range []struct{ from, lo, hi int }{{0, lo, hi + 1}, {1, lo, hi + 1}} {
		if d := at[want.from+1] - at[want.from]; d < want.lo || d > want.hi {
			t.Errorf("refresh %d after %d s, want %d-%d s", i+1, d, want.lo, want.hi)
		}
	}
	if at[3] != 7200 {
		t.Errorf("the provider's 2-hour expiry should assume again at 7200 s, got %d", at[3])
	}
	if got := c.pool.created; got != 1 {
		t.Errorf("%d environments for a request a second, want 1", got)
	}
}

func TestCredentialCacheHoldsAtMostMaxTenants(t *testing.T) {
	cfg := defaultScale(1)
	cfg.Caches.MaxTenants = 2
	cfg.Mix = requestMix{}
	cfg.Lambda.IdleMin, cfg.Lambda.IdleMax = time.Hour, time.Hour
	c := newCellSim(&cfg, []float64{1, 1, 1}, 1)
	e := c.pool.acquire(0)
	// Tenants 0, 1, 2, 0 in turn: with room for two, 0 has been evicted
	// by the time it comes back.
	for i, tenant := range []int{0, 1, 2, 0, 2} {
		c.serve(e, int64(i)*1e6, int64(i), tenant)
	}
	if got := total(c.n.sts); got != 4 {
		t.Fatalf("%d AssumeRole calls, want 4 (0, 1, 2, 0 again; 2 still cached)", got)
	}
}

func TestDataKeysFollowTheEnvelopeCaches(t *testing.T) {
	// Writes only, one a second for 30 minutes: a data key per 5 minutes.
	c, _ := testCell(requestMix{Write: 1, SealsPerWrite: 2, Recent: 100})
	n := requestsEvery(c, time.Second, 30*time.Minute)
	if got := total(n.gdk); got != 6 {
		t.Errorf("%d GenerateDataKey in 30 min, want 6 (one per 5 min)", got)
	}
	// ... or per DataKeyUses seals: 10 uses, 2 seals a write: one per 5 writes.
	c, cfg := testCell(requestMix{Write: 1, SealsPerWrite: 2, Recent: 100})
	cfg.Caches.DataKeyUses = 10
	n = requestsEvery(c, time.Second, 100*time.Second)
	if got := total(n.gdk); got != 20 {
		t.Errorf("%d GenerateDataKey for 100 writes at 10 seals a key, want 20", got)
	}

	// Reading back what this environment wrote needs no Decrypt (generate
	// fills the opening cache); reading an order from before the run does,
	// once per key per 5 minutes.
	c, _ = testCell(requestMix{Write: 0.5, Get: 0.5, SealsPerWrite: 2, Recent: 100, OldShare: 0, OldOrders: 1000})
	n = requestsEvery(c, time.Second, 4*time.Minute) // within one data key's age
	dec := total(n.dec)
	if dec > 1 { // only a get before the first write reads an old order
		t.Errorf("%d Decrypt calls reading back the environment's own writes, want at most 1", dec)
	}
	c, _ = testCell(requestMix{List: 1, ListItems: 20, Recent: 100})
	n = requestsEvery(c, 10*time.Second, 10*time.Minute)
	if got := total(n.dec); got != 40 {
		t.Errorf("%d Decrypt for lists of 20 old orders over 10 min, want 40 (20 keys, cached 5 min)", got)
	}
}

func TestCatalogIsReadAheadOfExpiry(t *testing.T) {
	c, _ := testCell(requestMix{})
	n := requestsEvery(c, time.Second, 10*time.Minute)
	// Loaded at 0; the first hit in the last 6 s of the 30 s TTL (at 24 s)
	// rereads it for another 30 s: one read per 24 s, no request waiting
	// after the first.
	if got := total(n.cat); got != 25 {
		t.Errorf("%d catalog reads in 10 min, want 25", got)
	}
	c, _ = testCell(requestMix{})
	n = requestsEvery(c, 40*time.Second, 10*time.Minute) // always after expiry
	if got := total(n.cat); got != 15 {
		t.Errorf("%d catalog reads for 15 requests 40 s apart, want 15", got)
	}
}

func TestPoolStartsEnvironmentsOnlyWhenAllAreBusy(t *testing.T) {
	cfg := defaultScale(1)
	cfg.Lambda.LifeMin, cfg.Lambda.LifeMax = time.Hour, time.Hour
	cfg.Lambda.IdleMin, cfg.Lambda.IdleMax = 10*time.Minute, 10*time.Minute
	p := &pool{cfg: &cfg, rng: rand.New(rand.NewPCG(1, 1))}
	a := p.acquire(0)
	p.start(a, 100)
	b := p.acquire(50) // a is busy: a second environment
	p.start(b, 150)
	if a == b || p.created != 2 || !a.cold || !b.cold {
		t.Fatalf("overlapping requests: %d environments", p.created)
	}
	p.release(200)
	a.cold, b.cold = false, false
	for i := 0; i < 10; i++ { // sequential requests reuse warm ones
		e := p.acquire(int64(200 + 1000*i))
		if e.cold {
			t.Fatal("a cold start while an environment was idle")
		}
		p.start(e, int64(200+1000*i+100))
		p.release(int64(200 + 1000*i + 500))
	}
	if p.created != 2 || p.live != 2 {
		t.Fatalf("%d created, %d live; want 2, 2", p.created, p.live)
	}
	// After 10 idle minutes both are reclaimed; the next request is cold.
	if e := p.acquire(usec(11 * time.Minute)); !e.cold || p.live != 1 || p.retired != 2 {
		t.Fatalf("after 11 idle minutes: cold %v, live %d, retired %d", e.cold, p.live, p.retired)
	}
	// An environment past its lifetime is recycled once idle.
	cfg.Lambda.IdleMin, cfg.Lambda.IdleMax = 100*time.Hour, 100*time.Hour
	p = &pool{cfg: &cfg, rng: rand.New(rand.NewPCG(1, 1))}
	e := p.acquire(0)
	p.start(e, usec(time.Hour)+5) // a request running past its deadline
	p.release(usec(time.Hour) + 10)
	if p.live != 0 || len(p.idle) != 0 {
		t.Fatalf("environment past its lifetime kept: live %d", p.live)
	}
}

func TestPoolMRUPicksTheMostRecentlyReleased(t *testing.T) {
	cfg := defaultScale(1)
	cfg.Lambda.Pick = pickMRU
	p := &pool{cfg: &cfg, rng: rand.New(rand.NewPCG(1, 1))}
	envs := []*simEnv{p.acquire(0), p.acquire(0), p.acquire(0)}
	for i, e := range envs {
		p.start(e, int64(10+i)) // released in order 0, 1, 2
	}
	p.release(100)
	if got := p.acquire(100); got != envs[2] {
		t.Fatal("MRU did not pick the last released environment")
	}
}

func TestConcurrencyDrivesTheEnvironmentCount(t *testing.T) {
	// Little's law: at 200 req/s of ~20 ms each, about 4 requests are in
	// flight; the pool must hold at least that many environments and,
	// with a random pick, not vastly more than the peak concurrency.
	cfg := defaultScale(100)
	cfg.RPS = 200
	cfg.Horizon, cfg.Deploy = 10*time.Minute, time.Minute
	cfg.Mix = requestMix{}
	cfg.Lambda.STSCall, cfg.Lambda.CatalogRead, cfg.Lambda.ColdStart = 0, 0, 0
	r := runScale(cfg)
	if r.envsMean < 4 || r.envsPeak > 30 {
		t.Fatalf("environments mean %.1f, peak %.0f at 200 req/s x 20 ms", r.envsMean, r.envsPeak)
	}
	if r.requests < 115_000 || r.requests > 125_000 {
		t.Fatalf("%d requests in 10 min at 200/s", r.requests)
	}
}

func TestScaleRunIsDeterministicAndCellsSplitTheLoad(t *testing.T) {
	cfg := defaultScale(2000)
	cfg.Horizon = 15 * time.Minute
	cfg.Deploy = 5 * time.Minute
	a, b := runScale(cfg), runScale(cfg)
	if a.stsDeploy != b.stsDeploy || a.kmsMean != b.kmsMean || a.requests != b.requests {
		t.Fatal("the same seed gave different results")
	}
	// Right after a deployment nearly every request assumes a role: the
	// deploy peak is close to the request rate, never above it.
	if a.stsDeploy > cfg.RPS*1.3 || a.stsDeploy < cfg.RPS*0.5 {
		t.Errorf("deploy peak %.0f AssumeRole/s at %.0f req/s", a.stsDeploy, cfg.RPS)
	}
	cfg.Cells = 4
	c := runScale(cfg)
	if c.tenantsPerCell[1] > 600 || c.tenantsPerCell[0] < 400 {
		t.Errorf("cells of %v tenants for 2000 over 4", c.tenantsPerCell)
	}
	if c.stsDeploy > a.stsDeploy/2 || c.kmsDeploy > a.kmsDeploy/2 {
		t.Errorf("4 cells: busiest account's deploy peaks STS %.0f, KMS %.0f vs %.0f, %.0f in one", c.stsDeploy, c.kmsDeploy, a.stsDeploy, a.kmsDeploy)
	}
}
