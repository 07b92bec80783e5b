package memo

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Cache maps keys to values that expire. The zero value is not usable; call
// New.
type Cache[K comparable, V any] struct {
	max     int
	now     func() time.Time
	refresh time.Duration // WithRefreshAhead's window; 0: off

	mu       sync.Mutex
	entries  map[K]*list.Element
	lru      *list.List
	inflight map[K]*call[V]
	stats    Stats
}

// Stats counts what the cache did.
type Stats struct {
	Hits, Misses, Loads, Evictions int64
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
	// refreshed: a refresh ahead of expiry was started for this entry (one
	// attempt per entry: a failing backend is not asked again on every hit).
	refreshed bool
}

type call[V any] struct {
	done chan struct{}
	val  V
	err  error
	// forgotten: Forget ran during the load, whose result is then not kept.
	forgotten bool
}

// Option configures a Cache.
type Option func(*options)

type options struct {
	now     func() time.Time
	refresh time.Duration
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
// is dropped (the entry stays until it expires). The load runs with the
// hitting call's context values, without its cancellation, for at most
// RefreshTimeout.
func WithRefreshAhead(window time.Duration) Option {
	return func(o *options) { o.refresh = window }
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
	return &Cache[K, V]{max: max, now: o.now, refresh: o.refresh, entries: map[K]*list.Element{}, lru: list.New(), inflight: map[K]*call[V]{}}
}

// Loader produces a value and the time it stops being fresh.
type Loader[V any] func(ctx context.Context) (V, time.Time, error)

// Get returns the fresh value for key, or loads it. Concurrent misses of one
// key make one load; errors are returned to every waiter and not cached.
func (c *Cache[K, V]) Get(ctx context.Context, key K, load Loader[V]) (V, error) {
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*entry[K, V])
		if now := c.now(); now.Before(e.expires) {
			c.lru.MoveToFront(el)
			c.stats.Hits++
			if c.refresh > 0 && !e.refreshed && !now.Before(e.expires.Add(-c.refresh)) && c.inflight[key] == nil {
				e.refreshed = true
				cl := &call[V]{done: make(chan struct{})}
				c.inflight[key] = cl
				c.stats.Loads++
				c.stats.Refreshes++
				go func() {
					rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RefreshTimeout)
					defer cancel()
					c.finish(rctx, key, cl, load)
				}()
			}
			c.mu.Unlock()
			return e.val, nil
		}
		c.lru.Remove(el)
		delete(c.entries, key)
	}
	c.stats.Misses++
	if cl, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		select {
		case <-cl.done:
			return cl.val, cl.err
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
	}
	cl := &call[V]{done: make(chan struct{})}
	c.inflight[key] = cl
	c.stats.Loads++
	c.mu.Unlock()
	c.finish(ctx, key, cl, load)
	return cl.val, cl.err
}

// finish runs cl's load, keeps its value unless it failed, is already
// stale or was forgotten meanwhile, and releases its waiters.
func (c *Cache[K, V]) finish(ctx context.Context, key K, cl *call[V], load Loader[V]) {
	var expires time.Time
	cl.val, expires, cl.err = load(ctx)

	c.mu.Lock()
	delete(c.inflight, key)
	if cl.err == nil && !cl.forgotten && c.now().Before(expires) {
		if el, ok := c.entries[key]; ok { // a refresh replaces the entry
			c.lru.Remove(el)
			delete(c.entries, key)
		}
		c.entries[key] = c.lru.PushFront(&entry[K, V]{key: key, val: cl.val, expires: expires})
		for c.lru.Len() > c.max {
			old := c.lru.Back()
			c.lru.Remove(old)
			delete(c.entries, old.Value.(*entry[K, V]).key)
			c.stats.Evictions++
		}
	}
	c.mu.Unlock()
	close(cl.done)
}

// Forget drops key, and the result of a load of it in flight.
func (c *Cache[K, V]) Forget(key K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.lru.Remove(el)
		delete(c.entries, key)
	}
	if cl, ok := c.inflight[key]; ok {
		cl.forgotten = true
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
	s.InFlight = len(c.inflight)
	return s
}
