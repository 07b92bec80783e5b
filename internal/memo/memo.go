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
	max int
	now func() time.Time

	mu       sync.Mutex
	entries  map[K]*list.Element
	lru      *list.List
	inflight map[K]*call[V]
	stats    Stats
}

// Stats counts what the cache did.
type Stats struct {
	Hits, Misses, Loads, Evictions int64
}

type entry[K comparable, V any] struct {
	key     K
	val     V
	expires time.Time
}

type call[V any] struct {
	done chan struct{}
	val  V
	err  error
}

// Option configures a Cache.
type Option func(*options)

type options struct{ now func() time.Time }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// New returns a cache of at most max entries.
func New[K comparable, V any](max int, opts ...Option) *Cache[K, V] {
	o := options{now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	if max < 1 {
		max = 1
	}
	return &Cache[K, V]{max: max, now: o.now, entries: map[K]*list.Element{}, lru: list.New(), inflight: map[K]*call[V]{}}
}

// Loader produces a value and the time it stops being fresh.
type Loader[V any] func(ctx context.Context) (V, time.Time, error)

// Get returns the fresh value for key, or loads it. Concurrent misses of one
// key make one load; errors are returned to every waiter and not cached.
func (c *Cache[K, V]) Get(ctx context.Context, key K, load Loader[V]) (V, error) {
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*entry[K, V])
		if c.now().Before(e.expires) {
			c.lru.MoveToFront(el)
			c.stats.Hits++
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

	var expires time.Time
	cl.val, expires, cl.err = load(ctx)

	c.mu.Lock()
	delete(c.inflight, key)
	if cl.err == nil && c.now().Before(expires) {
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
	return cl.val, cl.err
}

// Forget drops key.
func (c *Cache[K, V]) Forget(key K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.lru.Remove(el)
		delete(c.entries, key)
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
	return c.stats
}
