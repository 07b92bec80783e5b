package memo

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"
)

// Cache maps keys to values that expire. The zero value is not usable; call
// New.
type Cache[K comparable, V any] struct {
	max     int
	now     func() time.Time
	refresh time.Duration // WithRefreshAhead's window; 0: off
	maxUses int           // WithMaxUses; 0: no limit

	mu       sync.Mutex
	entries  map[K]*list.Element // of *entry[K, V]
	lru      *list.List          // most recently used first
	inflight map[K]*call[K, V]   // the load of a key that Gets join
	running  int                 // loads running, forgotten ones included
	stats    Stats
}

// Stats counts what the cache did.
type Stats struct {
	// Hits counts the Gets answered at once by a fresh entry; Misses, all
	// the others.
	Hits, Misses int64
	// Shared counts the Misses answered by a load that another call ran (or
	// by an entry that such a load left) rather than by a load of their own.
	Shared int64
	// Loads counts the loads run; Evictions, the entries dropped for room.
	Loads, Evictions int64
	// Refreshes counts the loads started ahead of expiry (WithRefreshAhead);
	// they are in Loads too.
	Refreshes int64
	// InFlight is the number of loads running now.
	InFlight int
}

type entry[K comparable, V any] struct {
	key     K
	val     V
	expires time.Time
	uses    int           // Gets served from it (counted under WithMaxUses)
	el      *list.Element // its place in the cache; nil when not (or no longer) there
	// refreshed: a refresh ahead of expiry was started for this entry (one
	// attempt per entry: a failing backend is not asked again on every hit).
	refreshed bool
}

type call[K comparable, V any] struct {
	done chan struct{}
	err  error
	// entry holds the value when the load succeeded, cached or not; its use
	// count is what the waiters spend.
	entry *entry[K, V]
	// forgotten: Forget ran during the load, whose result is then not kept.
	forgotten bool
}

// Option configures a Cache.
type Option func(*options)

type options struct {
	now     func() time.Time
	refresh time.Duration
	maxUses int
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// RefreshTimeout bounds a load started ahead of expiry.
const RefreshTimeout = 10 * time.Second

// WithRefreshAhead makes a Get that hits an entry with less than window of
// freshness left start one load in the background and return the entry at
// once: a key in steady use is reloaded before it expires, off the caller's
// path, instead of making the first caller after expiry wait. The expiry
// still holds: an entry is never returned after it, and a Get then waits
// for the load as before. Each entry gets one refresh attempt; a failed one
// is dropped (the entry stays until it expires, and a Get that was waiting
// for the refresh loads for itself). The load runs with the hitting call's
// context values, without its cancellation, for at most RefreshTimeout.
func WithRefreshAhead(window time.Duration) Option {
	return func(o *options) { o.refresh = window }
}

// WithMaxUses serves each entry at most n times; the Get that spends the
// last use drops it, and the next one loads anew. Every Get served spends
// one use, the one that ran the load and those that waited for it alike; a
// refresh or a Set spends none. n < 1 means no limit, the default.
func WithMaxUses(n int) Option {
	return func(o *options) { o.maxUses = max(n, 0) }
}

// New returns a cache of at most max entries.
func New[K comparable, V any](max int, opts ...Option) *Cache[K, V] {
	o := options{now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	if max < 1 {
		max = 1
	}
	return &Cache[K, V]{max: max, now: o.now, refresh: o.refresh, maxUses: o.maxUses,
		entries: map[K]*list.Element{}, lru: list.New(), inflight: map[K]*call[K, V]{}}
}

// Loader produces a value and the time it stops being fresh.
type Loader[V any] func(ctx context.Context) (V, time.Time, error)

// Get returns the fresh value for key, or loads it. Concurrent misses of one
// key make one load. A Get returns only its own load's error (not cached) or
// its own context's: when the load it waited for fails, or its value's uses
// are spent, it looks again, and loads for itself if need be (see the
// package doc).
func (c *Cache[K, V]) Get(ctx context.Context, key K, load Loader[V]) (V, error) {
	c.mu.Lock()
	if e := c.freshLocked(ctx, key, load); e != nil {
		c.stats.Hits++
		c.mu.Unlock()
		return e.val, nil
	}
	c.stats.Misses++
	for {
		cl, ok := c.inflight[key]
		if !ok {
			cl = c.startLocked(key)
			c.mu.Unlock()
			return c.run(ctx, key, cl, load, 1)
		}
		c.mu.Unlock()
		select {
		case <-cl.done:
		case <-ctx.Done():
			var zero V
			return zero, fmt.Errorf("memo: wait for load: %w", ctx.Err())
		}
		c.mu.Lock()
		if cl.err == nil && c.takeLocked(cl.entry) {
			c.stats.Shared++
			c.mu.Unlock()
			return cl.entry.val, nil
		}
		// Another call's load failed, or its value is spent: not ours to
		// return. Look again while this call can still load.
		if err := ctx.Err(); err != nil {
			c.mu.Unlock()
			var zero V
			return zero, fmt.Errorf("memo: wait for load: %w", err)
		}
		if e := c.freshLocked(ctx, key, load); e != nil {
			c.stats.Shared++
			c.mu.Unlock()
			return e.val, nil
		}
	}
}

// freshLocked returns key's fresh entry, spending one use of it, and starts
// a refresh ahead of expiry when one is due; nil when there is none.
func (c *Cache[K, V]) freshLocked(ctx context.Context, key K, load Loader[V]) *entry[K, V] {
	el, ok := c.entries[key]
	if !ok {
		return nil
	}
	e := el.Value.(*entry[K, V])
	now := c.now()
	if !now.Before(e.expires) {
		c.removeLocked(e)
		return nil
	}
	c.lru.MoveToFront(el)
	if c.refreshDueLocked(e, now) {
		e.refreshed = true
		cl := c.startLocked(key)
		c.stats.Refreshes++
		go func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RefreshTimeout)
			defer cancel()
			_, _ = c.run(rctx, key, cl, load, 0) // a failure is dropped: see WithRefreshAhead
		}()
	}
	c.takeLocked(e) // a cached entry always has a use left
	return e
}

// refreshDueLocked: a Get hitting e at now starts a refresh ahead of expiry.
func (c *Cache[K, V]) refreshDueLocked(e *entry[K, V], now time.Time) bool {
	return c.refresh > 0 && !e.refreshed && !now.Before(e.expires.Add(-c.refresh)) && c.inflight[e.key] == nil
}

// Lookup returns key's value when a Get would serve it from a fresh entry
// at once, with no refresh to start, counting a hit and spending a use as
// that Get would; otherwise ok is false and nothing is counted. It lets a
// caller build its Loader only on a miss: a Loader escapes, so a closure
// passed to Get costs an allocation even when the Get is a hit.
func (c *Cache[K, V]) Lookup(key K) (v V, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return v, false
	}
	e := el.Value.(*entry[K, V])
	if now := c.now(); !now.Before(e.expires) || c.refreshDueLocked(e, now) {
		return v, false
	}
	c.lru.MoveToFront(el)
	c.takeLocked(e)
	c.stats.Hits++
	return e.val, true
}

// takeLocked spends one use of e and drops e from the cache once they are
// all spent; false when none was left.
func (c *Cache[K, V]) takeLocked(e *entry[K, V]) bool {
	if c.maxUses == 0 {
		return true
	}
	if e.uses >= c.maxUses {
		return false
	}
	e.uses++
	if e.uses == c.maxUses {
		c.removeLocked(e)
	}
	return true
}

// startLocked registers a load of key for Gets to join.
func (c *Cache[K, V]) startLocked(key K) *call[K, V] {
	cl := &call[K, V]{done: make(chan struct{})}
	c.inflight[key] = cl
	c.running++
	c.stats.Loads++
	return cl
}

// run runs cl's load, caches its value unless it failed, is stale already,
// was forgotten meanwhile or is spent (uses: what the caller spends, 1 for
// a Get, 0 for a refresh), and releases its waiters.
func (c *Cache[K, V]) run(ctx context.Context, key K, cl *call[K, V], load Loader[V], uses int) (V, error) {
	v, expires, err := load(ctx)

	c.mu.Lock()
	c.running--
	if c.inflight[key] == cl {
		delete(c.inflight, key)
	}
	cl.err = err
	if err == nil {
		e := &entry[K, V]{key: key, val: v, expires: expires, uses: uses}
		cl.entry = e
		if !cl.forgotten && c.now().Before(expires) && (c.maxUses == 0 || uses < c.maxUses) {
			c.insertLocked(e)
		}
	}
	c.mu.Unlock()
	close(cl.done)
	return v, err
}

// insertLocked caches e, replacing any entry of its key, and evicts the
// least recently used entries beyond the maximum.
func (c *Cache[K, V]) insertLocked(e *entry[K, V]) {
	if el, ok := c.entries[e.key]; ok {
		c.removeLocked(el.Value.(*entry[K, V]))
	}
	e.el = c.lru.PushFront(e)
	c.entries[e.key] = e.el
	for c.lru.Len() > c.max {
		c.removeLocked(c.lru.Back().Value.(*entry[K, V]))
		c.stats.Evictions++
	}
}

func (c *Cache[K, V]) removeLocked(e *entry[K, V]) {
	if e.el == nil {
		return
	}
	c.lru.Remove(e.el)
	delete(c.entries, e.key)
	e.el = nil
}

// Set caches val for key until expires without spending a use of it,
// replacing any entry (a val already expired just drops it). A load of key
// in flight still replaces it when it ends.
func (c *Cache[K, V]) Set(key K, val V, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.now().Before(expires) {
		if el, ok := c.entries[key]; ok {
			c.removeLocked(el.Value.(*entry[K, V]))
		}
		return
	}
	c.insertLocked(&entry[K, V]{key: key, val: val, expires: expires})
}

// Forget drops key, and the result of a load of it in flight: Gets from now
// on load anew instead of joining that load.
func (c *Cache[K, V]) Forget(key K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.removeLocked(el.Value.(*entry[K, V]))
	}
	if cl, ok := c.inflight[key]; ok {
		cl.forgotten = true
		delete(c.inflight, key)
	}
}

// Len is the number of cached entries, fresh or not.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Stats returns the counters so far.
func (c *Cache[K, V]) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.InFlight = c.running
	return s
}
