package main

// The scale model (tessera-bench -scale): a discrete-event simulation of
// the api function on Lambda, to find the STS and KMS request rates that
// Tessera's per-process caches leave at 1,000 to 100,000 tenants, instead of
// multiplying worst cases. What it simulates:
//
//   - tenants of Zipf-distributed popularity, each a Poisson stream of
//     requests; no tenant above the premium tier's rate limit (what the
//     gateway lets through), the excess spread over the others;
//   - Lambda's scheduling: one request at a time per execution environment;
//     a request goes to a warm idle environment when there is one (picked at
//     random, or the most recently used), otherwise a new environment starts
//     cold; environments are recycled after a lifetime of a few hours and
//     reclaimed after some idle minutes;
//   - in each environment the process's caches as the code builds them (the
//     figures are read from the packages, see defaultCaches): tenant
//     credentials (access.Credentials: one SDK credentials cache per tenant,
//     refreshed 4 to 5 minutes before the 1-hour session ends, at most 2,000
//     tenants, each provider kept 2 hours from its creation), data keys
//     (crypto.Envelope: a sealing key per tenant for 5 minutes or 10,000
//     seals, opening keys by encrypted data key for 5 minutes, 10,000 of
//     each), tenant records (catalog.Cache: 30 s, reread ahead in the last
//     fifth, 10,000 tenants);
//   - a request mix: order writes (two sealed fields), order reads (of a
//     recent order, or of an older one whose data key no environment holds),
//     order lists (the newest orders, one data key each unless written by one
//     environment within 5 minutes), and requests that touch no sealed field.
//
// Time starts with every environment cold, as right after a deployment.
// Cells (scaleConfig.Cells > 1) split the tenants by cellOf into separate
// accounts, each with its own api function, so its own environments, STS and
// KMS quotas: the design change that keeps the rates per account bounded.

import (
	"container/heap"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/cell"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/wire"
)

// Quotas the rates are compared with (defaults per account and Region).
const (
	// stsQuota: AssumeRole requests per second per account (the design's
	// figure; see ARCHITECTURE.md and the README).
	stsQuota = 600
	// kmsQuota: KMS cryptographic operations on symmetric keys per second,
	// shared by all keys of an account: 10,000 by default, more in some
	// Regions (the KMS request-quotas page).
	kmsQuota = 10_000
	// lambdaConcurrency: concurrent executions per account and Region by
	// default.
	lambdaConcurrency = 1_000
)

// scaleConfig is one simulated scenario.
type scaleConfig struct {
	Tenants int
	// RPS is the request rate of all tenants together, held for the whole
	// run (a peak hour).
	RPS   float64
	ZipfS float64
	// MaxTenantRPS caps one tenant's rate: the gateway refuses more.
	MaxTenantRPS float64
	// Cells > 1 splits the tenants over that many accounts (cellOf).
	Cells   int
	Horizon time.Duration
	// Deploy is the window after the start that counts as the deployment.
	Deploy time.Duration
	Mix    requestMix
	Lambda lambdaModel
	Caches cacheModel
	Seed   uint64
}

// requestMix: shares of the requests; the rest reads products (no sealed
// field, but credentials and the catalog as every request).
type requestMix struct {
	Write, Get, List float64
	// ListItems is the page a list returns, newest orders first.
	ListItems int
	// OldShare of the gets read an order written before the run.
	OldShare float64
	// OldOrders: such a get picks one of the tenant's OldOrders newest
	// orders from before the run, each sealed under a data key of its own.
	OldOrders int
	// Recent: the other gets pick one of the tenant's last Recent writes.
	Recent int
	// SealsPerWrite: an order's sealed fields (customer name and email).
	SealsPerWrite int
}

type pickPolicy int

const (
	pickRandom pickPolicy = iota // any idle environment, uniformly
	pickMRU                      // the most recently used idle environment
)

func (p pickPolicy) String() string {
	if p == pickMRU {
		return "most recently used idle environment"
	}
	return "a random idle environment"
}

// lambdaModel: how long requests take and how environments live.
type lambdaModel struct {
	Pick pickPolicy
	// A warm request takes Service plus an exponential part of mean
	// ServiceExp, plus each call it has to make.
	Service, ServiceExp time.Duration
	ColdStart           time.Duration
	STSCall, KMSCall    time.Duration
	CatalogRead         time.Duration
	// An environment is recycled once idle after a lifetime uniform in
	// [LifeMin, LifeMax], and reclaimed after an idle time uniform in
	// [IdleMin, IdleMax].
	LifeMin, LifeMax time.Duration
	IdleMin, IdleMax time.Duration
}

// cacheModel: the caches of one process, as the code sets them.
type cacheModel struct {
	Session, Window time.Duration
	Jitter          float64
	MaxTenants      int
	ProviderTTL     time.Duration
	DataKeyAge      time.Duration
	DataKeyUses     int
	DataKeyEntries  int
	CatalogTTL      time.Duration
	CatalogEntries  int
	CatalogRefresh  time.Duration // the refresh-ahead window
}

// defaultCaches reads the cache settings from the packages that use them.
// Two are unexported literals in internal/platform/access/credentials.go and
// are repeated here: the SDK cache's ExpiryWindowJitterFrac (0.2) and
// providerTTL (2 h, counted from the provider's creation: memo entries do
// not slide).
func defaultCaches() cacheModel {
	ttl := settings.Defaults().CatalogTTL
	return cacheModel{
		Session: access.DefaultSessionDuration, Window: access.DefaultExpiryWindow, Jitter: 0.2,
		MaxTenants: access.DefaultMaxTenants, ProviderTTL: 2 * time.Hour,
		DataKeyAge: crypto.DefaultMaxAge, DataKeyUses: crypto.DefaultMaxUses, DataKeyEntries: crypto.DefaultMaxEntries,
		CatalogTTL: ttl, CatalogEntries: wire.MaxCachedTenants, CatalogRefresh: ttl / catalog.RefreshAheadShare,
	}
}

// defaultScale is the base scenario for n tenants: 0.1 requests/s per tenant
// in the peak hour (the tiers' monthly quotas average 0.04/s basic, 0.39/s
// standard, 3.9/s premium), Zipf s = 1.
func defaultScale(n int) scaleConfig {
	lim, _ := plan.For(catalog.TierPremium)
	return scaleConfig{
		Tenants: n, RPS: 0.1 * float64(n), ZipfS: 1, MaxTenantRPS: lim.RateLimit, Cells: 1,
		Horizon: 130 * time.Minute, Deploy: 10 * time.Minute,
		Mix: requestMix{Write: 0.25, Get: 0.55, List: 0.10, ListItems: 20, OldShare: 0.2, OldOrders: 1000, Recent: 100, SealsPerWrite: 2},
		Lambda: lambdaModel{Pick: pickRandom, Service: 8 * time.Millisecond, ServiceExp: 12 * time.Millisecond,
			ColdStart: 150 * time.Millisecond, STSCall: 25 * time.Millisecond, KMSCall: 8 * time.Millisecond, CatalogRead: 4 * time.Millisecond,
			LifeMin: time.Hour, LifeMax: 4 * time.Hour, IdleMin: 5 * time.Minute, IdleMax: 15 * time.Minute},
		Caches: defaultCaches(),
		Seed:   1,
	}
}

// ---- Zipf popularity -------------------------------------------------------

// zipfRates returns the request rates of n tenants whose popularity follows
// Zipf's law with exponent s (tenant i's share proportional to 1/(i+1)^s),
// totalling total, none above max: the excess of capped tenants is spread
// over the others in proportion to their popularity (water filling).
func zipfRates(n int, s, total, max float64) []float64 {
	w := make([]float64, n)
	var rest float64 // the weight of the tenants not capped
	for i := range w {
		w[i] = math.Pow(float64(i+1), -s)
		rest += w[i]
	}
	r := make([]float64, n)
	if n == 0 {
		return r
	}
	if max > 0 && total/float64(n) >= max { // more than all tenants at the cap
		for i := range r {
			r[i] = max
		}
		return r
	}
	if max <= 0 { // no cap
		for i := range r {
			r[i] = w[i] * total / rest
		}
		return r
	}
	// Tenants 0..capped-1 get max: popularity decreases, so the capped
	// ones are the first.
	capped := 0
	for capped < n && w[capped]*(total-float64(capped)*max)/rest > max {
		rest -= w[capped]
		capped++
	}
	left := total - float64(capped)*max
	for i := range r {
		if i < capped {
			r[i] = max
		} else {
			r[i] = w[i] * left / rest
		}
	}
	return r
}

// sampler draws an index with probability proportional to its weight.
type sampler struct{ cum []float64 }

func newSampler(weights []float64) *sampler {
	cum := make([]float64, len(weights))
	var sum float64
	for i, w := range weights {
		sum += w
		cum[i] = sum
	}
	for i := range cum {
		cum[i] /= sum
	}
	return &sampler{cum: cum}
}

// draw maps u in [0, 1) to an index (weights must be positive).
func (s *sampler) draw(u float64) int {
	return min(sort.SearchFloat64s(s.cum, u), len(s.cum)-1)
}

// ---- cells -----------------------------------------------------------------

// cellOf is the cell of a tenant among cells cells, by the product's own
// placement rule (cell.Index).
func cellOf(tenantID string, cells int) int { return cell.Index(tenantID, cells) }

func simTenantID(i int) string { return fmt.Sprintf("t%06d", i) }

// ---- caches ----------------------------------------------------------------

// lru is a bounded map of uint32 keys with an expiry each, least recently
// used dropped first, like memo.Cache: a lookup at or after the expiry is a
// miss that removes the entry.
type lru struct {
	max        int
	index      index
	nodes      []lruNode
	free       []int32
	head, tail int32 // most and least recently used; -1 when empty
}

type lruNode struct {
	key        uint32
	prev, next int32
	uses       int32
	val        uint32 // the sealing cache's data key
	exp        int64  // µs
	due        int64  // credentials: refresh due (0: none yet)
}

func newLRU(max int) *lru {
	return &lru{max: max, head: -1, tail: -1}
}

func (c *lru) len() int { return c.index.n }

// get returns the fresh entry of key (moved to the front) or -1, removing
// an expired one.
func (c *lru) get(key uint32, now int64) int32 {
	i := c.index.find(key)
	if i < 0 {
		return -1
	}
	if now >= c.nodes[i].exp {
		c.del(i)
		return -1
	}
	c.unlink(i)
	c.pushFront(i)
	return i
}

// put inserts key at the front (replacing any entry) and evicts the least
// recently used beyond max. The node index it returns is valid until the
// next put or del.
func (c *lru) put(key uint32, exp int64) int32 {
	if i := c.index.find(key); i >= 0 {
		c.del(i)
	}
	var i int32
	if n := len(c.free); n > 0 {
		i, c.free = c.free[n-1], c.free[:n-1]
	} else {
		c.nodes = append(c.nodes, lruNode{})
		i = int32(len(c.nodes) - 1)
	}
	c.nodes[i] = lruNode{key: key, exp: exp}
	c.index.set(key, i)
	c.pushFront(i)
	for c.index.n > c.max {
		c.del(c.tail)
	}
	return i
}

func (c *lru) del(i int32) {
	c.unlink(i)
	c.index.remove(c.nodes[i].key)
	c.free = append(c.free, i)
}

// purge drops expired entries from the least recently used end. That
// changes no later hit or miss: an expired entry is never served, and the
// entry at the end is the next one eviction would take anyway. It keeps the
// simulation's memory to what is fresh.
func (c *lru) purge(now int64) {
	for c.tail >= 0 && now >= c.nodes[c.tail].exp {
		c.del(c.tail)
	}
}

func (c *lru) unlink(i int32) {
	n := &c.nodes[i]
	if n.prev >= 0 {
		c.nodes[n.prev].next = n.next
	} else {
		c.head = n.next
	}
	if n.next >= 0 {
		c.nodes[n.next].prev = n.prev
	} else {
		c.tail = n.prev
	}
	n.prev, n.next = -1, -1
}

func (c *lru) pushFront(i int32) {
	n := &c.nodes[i]
	n.prev, n.next = -1, c.head
	if c.head >= 0 {
		c.nodes[c.head].prev = i
	}
	c.head = i
	if c.tail < 0 {
		c.tail = i
	}
}

// index maps uint32 keys to node numbers: open addressing with linear
// probing and backward-shift deletion (no tombstones, so lookups stay short
// however many entries come and go, which Go's maps do not promise).
type index struct {
	keys  []uint32
	vals  []int32 // -1: empty slot
	n     int
	mask  uint32
	shift uint32 // 32 - log2(len(vals)): home takes the product's top bits
}

// home is k's first slot: Fibonacci hashing.
func (x *index) home(k uint32) uint32 { return (k * 0x9E3779B1) >> x.shift }

// find returns the value of k, or -1.
func (x *index) find(k uint32) int32 {
	if x.n == 0 {
		return -1
	}
	for i := x.home(k); ; i = (i + 1) & x.mask {
		switch {
		case x.vals[i] < 0:
			return -1
		case x.keys[i] == k:
			return x.vals[i]
		}
	}
}

// set maps k to v (v >= 0), growing the table past half full.
func (x *index) set(k uint32, v int32) {
	if 2*(x.n+1) > len(x.vals) {
		x.grow()
	}
	for i := x.home(k); ; i = (i + 1) & x.mask {
		if x.vals[i] < 0 {
			x.keys[i], x.vals[i] = k, v
			x.n++
			return
		}
		if x.keys[i] == k {
			x.vals[i] = v
			return
		}
	}
}

func (x *index) grow() {
	keys, vals := x.keys, x.vals
	size := max(16, 2*len(vals))
	x.keys, x.vals, x.n, x.mask = make([]uint32, size), make([]int32, size), 0, uint32(size-1)
	x.shift = uint32(32 - bits.Len(uint(size-1)))
	for i := range x.vals {
		x.vals[i] = -1
	}
	for i, v := range vals {
		if v >= 0 {
			x.set(keys[i], v)
		}
	}
}

// remove deletes k, shifting back the entries of its probe run.
func (x *index) remove(k uint32) {
	if x.n == 0 {
		return
	}
	i := x.home(k)
	for ; x.vals[i] >= 0 && x.keys[i] != k; i = (i + 1) & x.mask {
	}
	if x.vals[i] < 0 {
		return
	}
	x.vals[i] = -1
	x.n--
	for j := (i + 1) & x.mask; x.vals[j] >= 0; j = (j + 1) & x.mask {
		// The entry at j may move to the hole at i unless its home lies
		// cyclically in (i, j].
		if h := x.home(x.keys[j]); (j-h)&x.mask >= (j-i)&x.mask {
			x.keys[i], x.vals[i] = x.keys[j], x.vals[j]
			x.vals[j] = -1
			i = j
		}
	}
}

// ---- environments ----------------------------------------------------------

type simEnv struct {
	busyUntil, idleSince int64
	deadline, idleLimit  int64
	cold                 bool
	heapIdx              int
	creds, cat           *lru // by tenant
	seal                 *lru // by tenant; val: the data key
	open                 *lru // by data key
}

type envHeap []*simEnv

func (h envHeap) Len() int           { return len(h) }
func (h envHeap) Less(i, j int) bool { return h[i].busyUntil < h[j].busyUntil }
func (h envHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].heapIdx = i; h[j].heapIdx = j }
func (h *envHeap) Push(x any)        { e := x.(*simEnv); e.heapIdx = len(*h); *h = append(*h, e) }
func (h *envHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// pool is the environments of one function: busy ones in a heap by the end
// of their request, idle ones in a list.
type pool struct {
	cfg  *scaleConfig
	rng  *rand.Rand
	busy envHeap
	idle []*simEnv
	live int
	// created and retired count environments.
	created, retired int
}

func usec(d time.Duration) int64 { return d.Microseconds() }

func (p *pool) uniform(lo, hi time.Duration) int64 {
	return usec(lo) + int64(p.rng.Float64()*float64(usec(hi)-usec(lo)))
}

// release moves the environments whose request ended by now to the idle
// list, retiring those past their lifetime.
func (p *pool) release(now int64) {
	for len(p.busy) > 0 && p.busy[0].busyUntil <= now {
		e := heap.Pop(&p.busy).(*simEnv)
		e.idleSince = e.busyUntil
		if e.idleSince >= e.deadline {
			p.retire()
			continue
		}
		p.idle = append(p.idle, e)
	}
}

func (p *pool) usable(e *simEnv, now int64) bool {
	return now < e.deadline && now-e.idleSince < e.idleLimit
}

func (p *pool) retire() { p.live--; p.retired++ }

// acquire returns the idle environment the request goes to, or a new
// (cold) one.
func (p *pool) acquire(now int64) *simEnv {
	for len(p.idle) > 0 {
		i := len(p.idle) - 1 // most recently used: the list's end
		if p.cfg.Lambda.Pick == pickRandom {
			i = p.rng.IntN(len(p.idle))
		}
		e := p.idle[i]
		p.idle[i] = p.idle[len(p.idle)-1]
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
		if p.usable(e, now) {
			return e
		}
		p.retire()
	}
	c := &p.cfg.Caches
	e := &simEnv{cold: true, deadline: now + p.uniform(p.cfg.Lambda.LifeMin, p.cfg.Lambda.LifeMax),
		idleLimit: p.uniform(p.cfg.Lambda.IdleMin, p.cfg.Lambda.IdleMax),
		creds:     newLRU(c.MaxTenants), cat: newLRU(c.CatalogEntries), seal: newLRU(c.DataKeyEntries), open: newLRU(c.DataKeyEntries)}
	p.live++
	p.created++
	return e
}

// start makes e busy until end.
func (p *pool) start(e *simEnv, end int64) {
	e.busyUntil = end
	heap.Push(&p.busy, e)
}

// sweep reclaims idle environments past their idle limit or lifetime and
// purges expired cache entries of the idle ones.
func (p *pool) sweep(now int64) {
	kept := p.idle[:0]
	for _, e := range p.idle {
		if p.usable(e, now) {
			kept = append(kept, e)
			e.cat.purge(now)
			e.seal.purge(now)
			e.open.purge(now)
			e.creds.purge(now)
		} else {
			p.retire()
		}
	}
	for i := len(kept); i < len(p.idle); i++ {
		p.idle[i] = nil
	}
	p.idle = kept
}

// ---- one cell ----------------------------------------------------------------

// counts are per-second counters of one cell.
type counts struct {
	sts, gdk, dec, cat, req, cold, envs []int32
}

func newCounts(seconds int) *counts {
	mk := func() []int32 { return make([]int32, seconds) }
	return &counts{sts: mk(), gdk: mk(), dec: mk(), cat: mk(), req: mk(), cold: mk(), envs: mk()}
}

// cellSim simulates one function (one account) serving some tenants.
type cellSim struct {
	cfg     *scaleConfig
	rng     *rand.Rand
	pool    *pool
	rates   []float64 // of the cell's tenants
	pick    *sampler
	recent  [][]uint32 // the newest writes' data keys per tenant, a ring
	written []int      // writes per tenant
	nextKey uint32
	n       *counts
	// hits and lookups of the credential and data-key caches
	credHits, credLookups int64
	keyHits, keyLookups   int64
}

// oldKey names the data key of a tenant's j-th newest order from before the
// run: one key per order, held by no environment at the start.
func oldKey(tenant, j int) uint32 { return 1<<31 | uint32(tenant)<<10 | uint32(j&1023) }

func newCellSim(cfg *scaleConfig, rates []float64, seed uint64) *cellSim {
	rng := rand.New(rand.NewPCG(cfg.Seed, seed))
	c := &cellSim{cfg: cfg, rng: rng, rates: rates, pick: newSampler(rates),
		recent: make([][]uint32, len(rates)), written: make([]int, len(rates)),
		n: newCounts(int(cfg.Horizon / time.Second))}
	c.pool = &pool{cfg: cfg, rng: rng}
	return c
}

func (c *cellSim) run() {
	var total float64
	for _, r := range c.rates {
		total += r
	}
	if total <= 0 {
		return
	}
	horizon := usec(c.cfg.Horizon)
	meanGap := 1e6 / total
	t := int64(0)
	lastSweep := int64(0)
	for {
		t += int64(math.Round(c.rng.ExpFloat64() * meanGap))
		if t >= horizon {
			return
		}
		if t-lastSweep >= 1e6 {
			c.pool.release(t)
			c.pool.sweep(t)
			lastSweep = t
		}
		c.pool.release(t)
		e := c.pool.acquire(t)
		sec := t / 1e6
		tenant := c.pick.draw(c.rng.Float64())
		d := c.serve(e, t, sec, tenant)
		c.pool.start(e, t+d)
		c.n.req[sec]++
		if l := int32(c.pool.live); l > c.n.envs[sec] {
			c.n.envs[sec] = l
		}
	}
}

// serve runs one request of tenant in e at now and returns its duration.
func (c *cellSim) serve(e *simEnv, now, sec int64, tenant int) int64 {
	lm, cm, mix := &c.cfg.Lambda, &c.cfg.Caches, &c.cfg.Mix
	d := usec(lm.Service) + int64(c.rng.ExpFloat64()*float64(usec(lm.ServiceExp)))
	if e.cold {
		e.cold = false
		d += usec(lm.ColdStart)
		c.n.cold[sec]++
	}
	key := uint32(tenant)

	// The tenant's record (catalog.Cache with refresh ahead).
	if i := e.cat.get(key, now); i < 0 {
		c.n.cat[sec]++
		d += usec(lm.CatalogRead)
		e.cat.put(key, now+usec(cm.CatalogTTL))
	} else if now >= e.cat.nodes[i].exp-usec(cm.CatalogRefresh) {
		c.n.cat[sec]++ // reread in the background; the request does not wait
		e.cat.nodes[i].exp = now + usec(cm.CatalogTTL)
	}

	// Its credentials (access.Credentials: a provider per tenant, whose SDK
	// cache assumes the role when it has no credentials or they are due).
	c.credLookups++
	i := e.creds.get(key, now)
	if i < 0 {
		i = e.creds.put(key, now+usec(cm.ProviderTTL))
	}
	if n := &e.creds.nodes[i]; n.due == 0 || now >= n.due {
		c.n.sts[sec]++
		d += usec(lm.STSCall)
		jitter := int64(c.rng.Float64() * cm.Jitter * float64(usec(cm.Window)))
		n.due = now + usec(cm.Session) - usec(cm.Window) + jitter
	} else {
		c.credHits++
	}

	u := c.rng.Float64()
	switch {
	case u < mix.Write:
		var dk uint32
		for s := 0; s < mix.SealsPerWrite; s++ {
			dk = c.sealKey(e, now, sec, key, &d)
		}
		ring := c.recent[tenant]
		if len(ring) < mix.Recent {
			c.recent[tenant] = append(ring, dk)
		} else {
			ring[c.written[tenant]%mix.Recent] = dk
		}
		c.written[tenant]++
	case u < mix.Write+mix.Get:
		ring := c.recent[tenant]
		var dk uint32
		if len(ring) == 0 || c.rng.Float64() < mix.OldShare {
			dk = oldKey(tenant, c.rng.IntN(mix.OldOrders))
		} else {
			dk = ring[c.rng.IntN(len(ring))]
		}
		c.openKey(e, now, sec, dk, &d)
	case u < mix.Write+mix.Get+mix.List:
		ring, w := c.recent[tenant], c.written[tenant]
		for j := 0; j < mix.ListItems; j++ {
			var dk uint32
			if j < len(ring) { // the ring's newest entry is the (w-1)th write
				dk = ring[(w-1-j)%mix.Recent]
			} else {
				dk = oldKey(tenant, j-len(ring))
			}
			c.openKey(e, now, sec, dk, &d)
		}
	}
	return d
}

// sealKey is one Seal: the tenant's sealing key, generated when missing,
// expired or spent (crypto.Envelope with memo.WithMaxUses).
func (c *cellSim) sealKey(e *simEnv, now, sec int64, tenant uint32, d *int64) uint32 {
	cm := &c.cfg.Caches
	c.keyLookups++
	i := e.seal.get(tenant, now)
	if i < 0 {
		c.n.gdk[sec]++
		*d += usec(c.cfg.Lambda.KMSCall)
		dk := c.nextKey
		c.nextKey++
		e.open.put(dk, now+usec(cm.DataKeyAge)) // what a process seals it can open
		i = e.seal.put(tenant, now+usec(cm.DataKeyAge))
		e.seal.nodes[i].val = dk
	} else {
		c.keyHits++
	}
	n := &e.seal.nodes[i]
	n.uses++
	dk := n.val
	if cm.DataKeyUses > 0 && int(n.uses) >= cm.DataKeyUses {
		e.seal.del(i)
	}
	return dk
}

// openKey opens the sealed fields of one order whose data key is dk (its
// two fields share the key: the second Open always hits).
func (c *cellSim) openKey(e *simEnv, now, sec int64, dk uint32, d *int64) {
	c.keyLookups++
	if e.open.get(dk, now) >= 0 {
		c.keyHits++
		return
	}
	c.n.dec[sec]++
	*d += usec(c.cfg.Lambda.KMSCall)
	e.open.put(dk, now+usec(c.cfg.Caches.DataKeyAge))
}

// ---- a scenario --------------------------------------------------------------

// scaleResult is what one scenario gives: per account (cell), the busiest
// cell's figures, and the sums over cells.
type scaleResult struct {
	cfg                        scaleConfig
	tenantsPerCell             [2]int     // smallest and largest cell
	cellRPS                    [2]float64 // smallest and largest
	topTenantRPS               float64
	cappedTenants              int
	stsDeploy, stsSteady       float64 // peak 1-s rate in one account: in the deployment window, after it
	stsMean                    float64 // busiest account's mean over the last hour
	kmsDeploy, kmsSteady       float64
	kmsMean                    float64
	gdkMean, decMean           float64 // busiest account's, last hour
	catalogMean                float64
	envsPeak, envsMean         float64 // busiest account's environments: peak, mean over the last hour
	totalSTSMean, totalKMSMean float64 // all accounts together, last hour
	coldStarts, requests       int64
	credHit, keyHit            float64
	stsPeakAt, kmsPeakAt       time.Duration // when the steady peaks happened
	stsOver, kmsOver           int           // seconds in which some account was over the quota
}

func runScale(cfg scaleConfig) scaleResult {
	rates := zipfRates(cfg.Tenants, cfg.ZipfS, cfg.RPS, cfg.MaxTenantRPS)
	res := scaleResult{cfg: cfg, topTenantRPS: rates[0], tenantsPerCell: [2]int{math.MaxInt, 0}, cellRPS: [2]float64{math.Inf(1), 0}}
	for _, r := range rates {
		if cfg.MaxTenantRPS > 0 && r >= cfg.MaxTenantRPS*(1-1e-9) {
			res.cappedTenants++
		}
	}
	cells := max(cfg.Cells, 1)
	members := make([][]float64, cells)
	for i, r := range rates {
		k := cellOf(simTenantID(i), cells)
		members[k] = append(members[k], r)
	}
	seconds := int(cfg.Horizon / time.Second)
	deploy := int(cfg.Deploy / time.Second)
	lastHour := max(seconds-3600, deploy) // the window of the means
	if lastHour >= seconds {
		lastHour = 0
	}
	totalSTS, totalKMS := make([]int64, seconds), make([]int64, seconds)
	overSTS, overKMS := make([]bool, seconds), make([]bool, seconds)
	var credHits, credLookups, keyHits, keyLookups int64
	for k, m := range members {
		var rps float64
		for _, r := range m {
			rps += r
		}
		res.tenantsPerCell[0], res.tenantsPerCell[1] = min(res.tenantsPerCell[0], len(m)), max(res.tenantsPerCell[1], len(m))
		res.cellRPS[0], res.cellRPS[1] = math.Min(res.cellRPS[0], rps), math.Max(res.cellRPS[1], rps)
		if len(m) == 0 {
			continue
		}
		c := newCellSim(&cfg, m, uint64(k)+1)
		c.run()
		credHits, credLookups, keyHits, keyLookups = credHits+c.credHits, credLookups+c.credLookups, keyHits+c.keyHits, keyLookups+c.keyLookups
		n := c.n
		var sts, kms, gdk, dec, cat, envs float64
		for s := 0; s < seconds; s++ {
			kmsS := float64(n.gdk[s] + n.dec[s])
			totalSTS[s] += int64(n.sts[s])
			totalKMS[s] += int64(n.gdk[s] + n.dec[s])
			if s < deploy {
				res.stsDeploy = math.Max(res.stsDeploy, float64(n.sts[s]))
				res.kmsDeploy = math.Max(res.kmsDeploy, kmsS)
			} else {
				if float64(n.sts[s]) > res.stsSteady {
					res.stsSteady, res.stsPeakAt = float64(n.sts[s]), time.Duration(s)*time.Second
				}
				if kmsS > res.kmsSteady {
					res.kmsSteady, res.kmsPeakAt = kmsS, time.Duration(s)*time.Second
				}
			}
			if n.sts[s] > stsQuota {
				overSTS[s] = true
			}
			if kmsS > kmsQuota {
				overKMS[s] = true
			}
			res.envsPeak = math.Max(res.envsPeak, float64(n.envs[s]))
			res.coldStarts += int64(n.cold[s])
			res.requests += int64(n.req[s])
			if s >= lastHour {
				sts, kms, gdk, dec, cat, envs = sts+float64(n.sts[s]), kms+kmsS, gdk+float64(n.gdk[s]), dec+float64(n.dec[s]), cat+float64(n.cat[s]), envs+float64(n.envs[s])
			}
		}
		span := float64(seconds - lastHour)
		res.stsMean = math.Max(res.stsMean, sts/span)
		res.kmsMean = math.Max(res.kmsMean, kms/span)
		res.gdkMean = math.Max(res.gdkMean, gdk/span)
		res.decMean = math.Max(res.decMean, dec/span)
		res.catalogMean = math.Max(res.catalogMean, cat/span)
		res.envsMean = math.Max(res.envsMean, envs/span)
	}
	for s := range overSTS {
		if overSTS[s] {
			res.stsOver++
		}
		if overKMS[s] {
			res.kmsOver++
		}
	}
	var ts, tk float64
	for s := lastHour; s < seconds; s++ {
		ts += float64(totalSTS[s])
		tk += float64(totalKMS[s])
	}
	res.totalSTSMean, res.totalKMSMean = ts/float64(seconds-lastHour), tk/float64(seconds-lastHour)
	if credLookups > 0 {
		res.credHit = float64(credHits) / float64(credLookups)
	}
	if keyLookups > 0 {
		res.keyHit = float64(keyHits) / float64(keyLookups)
	}
	return res
}

// ---- the report ----------------------------------------------------------------

// scaleScenarios are the runs of the report: the three sizes as the code is,
// then with cells, then the sensitivity of the 10,000-tenant case to the
// assumptions. The 100,000-tenant run on one account is cut at 70 minutes
// (the deployment and its echo 55 minutes later): it is far over the quotas
// either way, and it is the slowest to simulate.
func scaleScenarios() []scaleConfig {
	var out []scaleConfig
	for _, n := range []int{1_000, 10_000, 100_000} {
		c := defaultScale(n)
		if n == 100_000 {
			c.Horizon = 70 * time.Minute
		}
		out = append(out, c)
	}
	for _, n := range []int{10_000, 100_000} {
		c := defaultScale(n)
		c.Cells = cellsFor(c.Tenants, c.RPS)
		out = append(out, c)
	}
	s08, s12, mru, busy, kept := defaultScale(10_000), defaultScale(10_000), defaultScale(10_000), defaultScale(10_000), defaultScale(10_000)
	s08.ZipfS, s12.ZipfS, mru.Lambda.Pick, busy.RPS = 0.8, 1.2, pickMRU, 3*busy.RPS
	kept.Caches.ProviderTTL = 1000 * time.Hour // never within a run: the provider kept while in use
	busyCells := busy
	busyCells.Cells = cellsFor(busy.Tenants, busy.RPS)
	return append(out, s08, s12, mru, busy, busyCells, kept)
}

// The design change: cells of at most cellTenants tenants and cellRPS
// requests/s (peak hour, on average over the cell's tenants). Right after a
// deployment nearly every request assumes a role, so a cell's request rate
// bounds its AssumeRole rate; with tenants placed by cellOf the busiest cell
// carries more than the average (the biggest tenants land somewhere), hence
// the margin under 600/s. 2,500 tenants also keeps a cell's API keys (one
// per tenant) well under API Gateway's 10,000 per account.
const (
	cellTenants = cell.MaxTenants
	cellRPS     = cell.MaxRequestRate
)

// cellsFor is the number of cells for tenants sending rps requests/s.
func cellsFor(tenants int, rps float64) int {
	return max(1, (tenants+cellTenants-1)/cellTenants, int(math.Ceil(rps/cellRPS)))
}

// runScaleReport runs the scenarios (two at a time) and renders the report.
func runScaleReport(scenarios []scaleConfig) string {
	results := make([]scaleResult, len(scenarios))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	order := make([]int, len(scenarios)) // the longest first, so that the two workers end together
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return scenarios[order[a]].RPS*scenarios[order[a]].Horizon.Seconds() > scenarios[order[b]].RPS*scenarios[order[b]].Horizon.Seconds()
	})
	for _, i := range order {
		c := scenarios[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = runScale(c)
		}()
	}
	wg.Wait()
	return scaleReport(results)
}

func scaleReport(results []scaleResult) string {
	var b strings.Builder
	if len(results) == 0 {
		return ""
	}
	c := results[0].cfg
	fmt.Fprintf(&b, "Scale model of STS and KMS calls (tessera-bench -scale), seed %d\n", c.Seed)
	fmt.Fprintf(&b, "assumptions: %.2f requests/s per tenant in the peak hour, held for %s from a deployment (every environment cold);\n", c.RPS/float64(c.Tenants), c.Horizon)
	fmt.Fprintf(&b, "  Zipf s=%g popularity, Poisson arrivals, no tenant above %g req/s (premium rate limit);\n", c.ZipfS, c.MaxTenantRPS)
	fmt.Fprintf(&b, "  mix: %.0f%% order writes (%d sealed fields), %.0f%% order reads (%.0f%% of them of an order from before the run, one data key each; the others of one of the tenant's last %d writes), %.0f%% lists of the %d newest orders, %.0f%% requests with no sealed field;\n",
		100*c.Mix.Write, c.Mix.SealsPerWrite, 100*c.Mix.Get, 100*c.Mix.OldShare, c.Mix.Recent, 100*c.Mix.List, c.Mix.ListItems, 100*(1-c.Mix.Write-c.Mix.Get-c.Mix.List))
	l := c.Lambda
	fmt.Fprintf(&b, "  Lambda: one request per environment, to %s, else a cold start (+%s); a request takes %s + exp(%s) + %s per STS call, %s per KMS call, %s per catalog read;\n",
		l.Pick, ms(l.ColdStart), ms(l.Service), ms(l.ServiceExp), ms(l.STSCall), ms(l.KMSCall), ms(l.CatalogRead))
	fmt.Fprintf(&b, "  environments recycled after %s-%s (uniform), reclaimed after %s-%s idle;\n", l.LifeMin, l.LifeMax, l.IdleMin, l.IdleMax)
	k := c.Caches
	fmt.Fprintf(&b, "  caches per environment (from the code): credentials %s sessions refreshed %s-%s early, %d tenants, provider kept %s; data keys %s or %d seals, %d entries; catalog %s (reread in the last %s), %d tenants\n",
		k.Session, time.Duration(float64(k.Window)*(1-k.Jitter)), k.Window, k.MaxTenants, k.ProviderTTL, k.DataKeyAge, k.DataKeyUses, k.DataKeyEntries, k.CatalogTTL, k.CatalogRefresh, k.CatalogEntries)
	fmt.Fprintf(&b, "cells (the design change): accounts of at most %d tenants and %d req/s each, a tenant's cell by cellOf (FNV-1a, jump consistent hash), each with its own api function\n", cellTenants, cellRPS)
	fmt.Fprintf(&b, "quotas per account: STS AssumeRole %d/s; KMS symmetric cryptographic operations %d/s (default; more in some Regions); Lambda concurrency %d\n", stsQuota, kmsQuota, lambdaConcurrency)
	fmt.Fprintf(&b, "rates are per account (the busiest cell's, where there are cells): peak of any 1 s in the first %s (deploy) and after it (steady), and the mean over the last hour\n\n", c.Deploy)
	fmt.Fprintf(&b, "%-48s %7s %6s %5s | %-20s | %-20s | %s\n", "scenario", "tenants", "req/s", "cells", "STS/s deploy steady mean", "KMS/s deploy steady mean", "envs peak, hits creds/keys")
	for _, r := range results {
		fmt.Fprintf(&b, "%-48s %7d %6.0f %5d | %6.0f %6.0f %6.1f | %6.0f %6.0f %6.0f | %4.0f, %4.1f%% / %4.1f%%%s\n",
			scenarioName(r.cfg), r.cfg.Tenants, r.cfg.RPS, max(r.cfg.Cells, 1),
			r.stsDeploy, r.stsSteady, r.stsMean, r.kmsDeploy, r.kmsSteady, r.kmsMean,
			r.envsPeak, 100*r.credHit, 100*r.keyHit, verdict(r))
	}
	fmt.Fprintf(&b, "\ndetails (last hour; where there are cells, the busiest account, and all accounts together):\n")
	for _, r := range results {
		fmt.Fprintf(&b, "  %s: %d tenants (top %.0f req/s, %d at the cap); KMS mean %.0f GenerateDataKey + %.0f Decrypt/s; catalog reads %.0f/s; environments mean %.0f, %d cold starts over %d requests",
			scenarioName(r.cfg), r.cfg.Tenants, r.topTenantRPS, r.cappedTenants, r.gdkMean, r.decMean, r.catalogMean, r.envsMean, r.coldStarts, r.requests)
		if r.cfg.Cells > 1 {
			fmt.Fprintf(&b, "; cells of %d-%d tenants, %.0f-%.0f req/s; all accounts: STS %.0f/s, KMS %.0f/s", r.tenantsPerCell[0], r.tenantsPerCell[1], r.cellRPS[0], r.cellRPS[1], r.totalSTSMean, r.totalKMSMean)
		}
		fmt.Fprintf(&b, "; steady peaks at %s (STS), %s (KMS); seconds over the quota: STS %d, KMS %d of %.0f\n", r.stsPeakAt, r.kmsPeakAt, r.stsOver, r.kmsOver, r.cfg.Horizon.Seconds())
	}
	return b.String()
}

func scenarioName(c scaleConfig) string {
	base := defaultScale(c.Tenants)
	var parts []string
	if c.Cells > 1 {
		parts = append(parts, fmt.Sprintf("%d cells", c.Cells))
	}
	if c.ZipfS != base.ZipfS {
		parts = append(parts, fmt.Sprintf("Zipf s=%g", c.ZipfS))
	}
	if c.Lambda.Pick != base.Lambda.Pick {
		parts = append(parts, "MRU pick")
	}
	if c.RPS != base.RPS {
		parts = append(parts, fmt.Sprintf("%.1f req/s per tenant", c.RPS/float64(c.Tenants)))
	}
	if c.Caches.ProviderTTL != base.Caches.ProviderTTL {
		parts = append(parts, "provider kept while used")
	}
	if c.Horizon != base.Horizon {
		parts = append(parts, fmt.Sprintf("%.0f min", c.Horizon.Minutes()))
	}
	if c.Cells <= 1 {
		parts = append([]string{"as built (one account)"}, parts...)
	}
	return strings.Join(parts, ", ")
}

// verdict names the quotas a scenario crosses.
func verdict(r scaleResult) string {
	var over []string
	if math.Max(r.stsDeploy, r.stsSteady) > stsQuota {
		over = append(over, "STS")
	}
	if math.Max(r.kmsDeploy, r.kmsSteady) > kmsQuota {
		over = append(over, "KMS")
	}
	if r.envsPeak > lambdaConcurrency {
		over = append(over, "Lambda concurrency")
	}
	if len(over) == 0 {
		return ""
	}
	return "  OVER: " + strings.Join(over, ", ")
}

// writeScale runs the scale model's scenarios, prints the report and writes
// it to path.
func writeScale(path string) error {
	start := time.Now()
	fmt.Fprintf(os.Stderr, "scale model: simulating %d scenarios...\n", len(scaleScenarios()))
	report := runScaleReport(scaleScenarios())
	report += fmt.Sprintf("\n(simulated in %s on %d cores)\n", time.Since(start).Round(time.Second), runtime.NumCPU())
	fmt.Print(report)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(report), 0o644)
}
