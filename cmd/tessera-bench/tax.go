package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/tessera-saas/tessera/internal/app/tenantapi"
)

// The multi-tenant tax, (a): paired rounds. Each round sends the same
// sequence of requests (the same tenants, 3 order reads : 1 order write)
// through the isolated handler in one block and through the baseline in
// another, the order of the two blocks alternating from round to round, so
// that drift in the emulator falls on both alike. Per round it takes the
// ratio of the two blocks' p50 and p99, and the process's own CPU time per
// request of each block (getrusage: user + system time of this process
// only; the emulators run in processes of their own), less what the idle
// process spends in the same wall time. The report gives the median of the
// per-round figures with a distribution-free 95 % interval (order
// statistics of the median), and the ratios of the pooled percentiles with
// a 95 % bootstrap interval over rounds. 120 rounds (about two minutes):
// with 60, the p99 ratio's interval was about ±0.07 wide around 1.05, as
// wide as the distance to its target. It also reports the heap each
// variant allocates per request, which its collections pay for.

// taxRounds, taxPerRound and taxOnly are the -tax-rounds, -tax-per-round
// and -tax-only flags.
var (
	taxRounds   = 120
	taxPerRound = 200
	taxOnly     bool
)

// taxBlock is one variant's block of one round.
type taxBlock struct {
	lat  []time.Duration
	cpu  time.Duration // process CPU time, the idle share taken off
	wall time.Duration
	// allocBytes and allocObjects are what the process allocated on the
	// heap during the block (runtime/metrics): the garbage the block's
	// collections are paid for.
	allocBytes, allocObjects uint64
}

func (b taxBlock) cpuPerRequest() time.Duration { return b.cpu / time.Duration(len(b.lat)) }

type taxResult struct {
	iso, base []taxBlock // per round
	idle      float64    // CPU seconds per wall second of the idle process
}

// processCPU is this process's user + system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// idleCPU measures what the process spends when it serves nothing (timers,
// the runtime's background work), per second of wall time.
func idleCPU(d time.Duration) float64 {
	runtime.GC()
	c0, t0 := processCPU(), time.Now()
	time.Sleep(d)
	return float64(processCPU()-c0) / float64(time.Since(t0))
}

func measureTax(ctx context.Context, isolated, baseline *tenantapi.Handler, fx []fixture, rounds, perRound int) (taxResult, error) {
	res := taxResult{idle: idleCPU(2 * time.Second)}
	for r := 0; r < rounds; r++ {
		first, second := isolated, baseline
		if r%2 == 1 {
			first, second = baseline, isolated
		}
		var blocks [2]taxBlock
		for k, h := range []*tenantapi.Handler{first, second} {
			b, err := taxBlockOf(ctx, h, h == isolated, fx, r*perRound, perRound)
			if err != nil {
				return taxResult{}, err
			}
			blocks[k] = b
		}
		if first == isolated {
			res.iso, res.base = append(res.iso, blocks[0]), append(res.base, blocks[1])
		} else {
			res.iso, res.base = append(res.iso, blocks[1]), append(res.base, blocks[0])
		}
	}
	res.idle = (res.idle + idleCPU(2*time.Second)) / 2
	for i := range res.iso {
		for _, b := range []*taxBlock{&res.iso[i], &res.base[i]} {
			b.cpu -= time.Duration(res.idle * float64(b.wall))
		}
	}
	return res, nil
}

// taxBlockOf sends n requests through h, request i of the run being
// offset+i, and measures each one and the block's CPU time. The block
// starts after a collection and ends with one, so that each block pays for
// its own garbage.
func taxBlockOf(ctx context.Context, h *tenantapi.Handler, isolated bool, fx []fixture, offset, n int) (taxBlock, error) {
	b := taxBlock{lat: make([]time.Duration, 0, n)}
	variant := "baseline"
	if isolated {
		variant = "isolated"
	}
	// The label lets a CPU profile (-cpuprofile) tell the variants apart:
	// go tool pprof -tagfocus variant=isolated. (HTTP connections' own
	// goroutines carry the label of the block that opened them.)
	defer pprof.SetGoroutineLabels(ctx)
	ctx = pprof.WithLabels(ctx, pprof.Labels("variant", variant))
	pprof.SetGoroutineLabels(ctx)
	runtime.GC()
	a0 := heapAllocs()
	c0, t0 := processCPU(), time.Now()
	for i := offset; i < offset+n; i++ {
		f := fx[i%len(fx)]
		start := time.Now()
		var err error
		if i%4 != 0 { // 3 reads (decrypting two fields) per write (encrypting two)
			_, err = call(ctx, h, f.token, "GET", "/v1/orders/{id}", pick(isolated, f), "")
		} else {
			_, err = create(ctx, h, f.token, "/v1/orders", `{"productId":"`+f.product+`","quantity":2,"customer":{"name":"Customer Name","email":"customer@example.com"}}`)
		}
		if err != nil {
			return taxBlock{}, err
		}
		b.lat = append(b.lat, time.Since(start))
	}
	runtime.GC()
	b.cpu, b.wall = processCPU()-c0, time.Since(t0)
	a1 := heapAllocs()
	b.allocBytes, b.allocObjects = a1[0].Value.Uint64()-a0[0].Value.Uint64(), a1[1].Value.Uint64()-a0[1].Value.Uint64()
	return b, nil
}

// heapAllocs reads the process's cumulative heap allocations: bytes, then
// objects.
func heapAllocs() []metrics.Sample {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/allocs:objects"}}
	metrics.Read(s)
	return s
}

// medianCI returns the median of xs and a distribution-free interval of at
// least 95 % coverage for it: the k-th smallest and k-th largest values,
// with k the largest such that P(Binomial(n, 1/2) < k) <= 2.5 %.
func medianCI(xs []float64) (med, lo, hi float64) {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	if n%2 == 1 {
		med = s[n/2]
	} else {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	k := 0 // P(B <= k-1) <= 0.025
	cdf := 0.0
	for j := 0; j < n; j++ {
		cdf += binomialHalf(n, j)
		if cdf > 0.025 {
			break
		}
		k = j + 1
	}
	if k == 0 { // too few rounds for a 95 % interval: the range
		return med, s[0], s[n-1]
	}
	return med, s[k-1], s[n-k]
}

// binomialHalf is P(Binomial(n, 1/2) = j).
func binomialHalf(n, j int) float64 {
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x + 1)); return v }
	return math.Exp(lg(n) - lg(j) - lg(n-j) - float64(n)*math.Ln2)
}

// bootstrapRatio is the ratio of the pooled p-th percentiles of a and b
// (per-round samples, paired by round) and its 95 % percentile-bootstrap
// interval, resampling whole rounds.
func bootstrapRatio(a, b [][]time.Duration, p int, resamples int, seed uint64) (ratio, lo, hi float64) {
	pooled := func(rounds [][]time.Duration, pickRound []int) []time.Duration {
		var out []time.Duration
		for _, r := range pickRound {
			out = append(out, rounds[r]...)
		}
		return out
	}
	all := make([]int, len(a))
	for i := range all {
		all[i] = i
	}
	ratio = float64(pct(pooled(a, all), p)) / float64(pct(pooled(b, all), p))
	rng := rand.New(rand.NewPCG(seed, 7))
	rs := make([]float64, resamples)
	idx := make([]int, len(a))
	for k := range rs {
		for i := range idx {
			idx[i] = rng.IntN(len(a))
		}
		rs[k] = float64(pct(pooled(a, idx), p)) / float64(pct(pooled(b, idx), p))
	}
	sort.Float64s(rs)
	return ratio, rs[int(0.025*float64(resamples))], rs[int(0.975*float64(resamples))-1]
}

func (t taxResult) latencies(iso bool) [][]time.Duration {
	blocks := t.base
	if iso {
		blocks = t.iso
	}
	out := make([][]time.Duration, len(blocks))
	for i, b := range blocks {
		out[i] = b.lat
	}
	return out
}

func (t taxResult) report(tenants int) string {
	var b strings.Builder
	n := len(t.iso)
	per := 0
	if n > 0 {
		per = len(t.iso[0].lat)
	}
	var p50s, p99s, cpuDiff, cpuIso, cpuBase, kbIso, kbBase, objIso, objBase []float64
	var allIso, allBase []time.Duration
	for i := range t.iso {
		p50s = append(p50s, ratio(pct(t.iso[i].lat, 50), pct(t.base[i].lat, 50)))
		p99s = append(p99s, ratio(pct(t.iso[i].lat, 99), pct(t.base[i].lat, 99)))
		ci, cb := t.iso[i].cpuPerRequest(), t.base[i].cpuPerRequest()
		cpuIso, cpuBase = append(cpuIso, float64(ci.Nanoseconds())/1000), append(cpuBase, float64(cb.Nanoseconds())/1000)
		cpuDiff = append(cpuDiff, float64((ci-cb).Nanoseconds())/1000)
		perReq := func(x uint64, b taxBlock) float64 { return float64(x) / float64(len(b.lat)) }
		kbIso, kbBase = append(kbIso, perReq(t.iso[i].allocBytes, t.iso[i])/1024), append(kbBase, perReq(t.base[i].allocBytes, t.base[i])/1024)
		objIso, objBase = append(objIso, perReq(t.iso[i].allocObjects, t.iso[i])), append(objBase, perReq(t.base[i].allocObjects, t.base[i]))
		allIso, allBase = append(allIso, t.iso[i].lat...), append(allBase, t.base[i].lat...)
	}
	m50, l50, h50 := medianCI(p50s)
	m99, l99, h99 := medianCI(p99s)
	r50, bl50, bh50 := bootstrapRatio(t.latencies(true), t.latencies(false), 50, 2000, 1)
	r99, bl99, bh99 := bootstrapRatio(t.latencies(true), t.latencies(false), 99, 2000, 2)
	md, ld, hd := medianCI(cpuDiff)
	mi, _, _ := medianCI(cpuIso)
	mb, _, _ := medianCI(cpuBase)
	fmt.Fprintf(&b, "(a) multi-tenant tax: %d paired rounds of %d requests per variant over %d tenants (3 order reads : 1 order write), blocks alternating in order\n", n, per, tenants)
	fmt.Fprintf(&b, "    isolated (verified token, catalog, scoped credentials, key prefix, encryption, metering): p50 %s  p99 %s  (all rounds pooled)\n", ms(pct(allIso, 50)), ms(pct(allIso, 99)))
	fmt.Fprintf(&b, "    baseline (verified token, same DynamoDB calls, plain credentials, no encryption):           p50 %s  p99 %s\n", ms(pct(allBase, 50)), ms(pct(allBase, 99)))
	fmt.Fprintf(&b, "    tax, median of per-round ratios [95%% CI]: p50 %.3fx [%.3f, %.3f]  p99 %.3fx [%.3f, %.3f]  (targets: p50 <= 1.05x, p99 <= 1.10x)\n", m50, l50, h50, m99, l99, h99)
	fmt.Fprintf(&b, "    tax, pooled percentiles [95%% bootstrap CI over rounds]: p50 %.3fx [%.3f, %.3f]  p99 %.3fx [%.3f, %.3f]\n", r50, bl50, bh50, r99, bl99, bh99)
	fmt.Fprintf(&b, "    CPU time of this process per request (getrusage, emulators excluded, idle %.2f%% of a core subtracted, each block's garbage collected in it):\n", 100*t.idle)
	fmt.Fprintf(&b, "      isolated %.1fµs  baseline %.1fµs  (medians over rounds); isolated - baseline %+.1fµs [95%% CI %+.1f, %+.1f]  (target <= +30µs)\n", mi, mb, md, ld, hd)
	ki, _, _ := medianCI(kbIso)
	kb, _, _ := medianCI(kbBase)
	oi, _, _ := medianCI(objIso)
	ob, _, _ := medianCI(objBase)
	fmt.Fprintf(&b, "      heap allocated per request (medians over rounds): isolated %.1f KiB in %.0f objects, baseline %.1f KiB in %.0f objects\n\n", ki, oi, kb, ob)
	return b.String()
}
