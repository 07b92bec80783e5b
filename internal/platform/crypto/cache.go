package crypto

import (
	"container/list"
	"context"
	"crypto/cipher"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// dataKey is a usable plaintext data key: its AEAD, and the data key as KMS
// encrypted it (set for sealing keys only).
type dataKey struct {
	aead cipher.AEAD
	edk  []byte
}

// cacheKey names a data key. Sealing keys leave edkHash zero; opening keys
// are found by the SHA-256 of the encrypted data key in the value.
type cacheKey struct {
	tenantID, keyID string
	edkHash         [32]byte
}

type cacheEntry struct {
	key     cacheKey
	dk      *dataKey
	created time.Time
	uses    int
}

type flight struct {
	done chan struct{}
	err  error
}

// keyCache holds at most maxEntries data keys, each for at most maxAge and,
// when maxUses > 0, at most maxUses uses; least recently used keys go first.
// Concurrent misses of one key share one load.
type keyCache struct {
	maxAge     time.Duration
	maxUses    int
	maxEntries int
	now        func() time.Time

	mu       sync.Mutex
	entries  map[cacheKey]*list.Element
	lru      *list.List // of *cacheEntry, most recent first
	inflight map[cacheKey]*flight

	hits, misses atomic.Int64
}

func newKeyCache(maxAge time.Duration, maxUses, maxEntries int, now func() time.Time) *keyCache {
	return &keyCache{maxAge: maxAge, maxUses: maxUses, maxEntries: maxEntries, now: now,
		entries: map[cacheKey]*list.Element{}, lru: list.New(), inflight: map[cacheKey]*flight{}}
}

// get returns a usable key for k, counting one use of it, or loads one.
// A hit is a key served from the cache (possibly after waiting for another
// caller's load); a miss is a call that ran load. A load error is returned to
// the waiters and not cached, except that a waiter whose own context is live
// retries when the loader's context was cancelled.
func (c *keyCache) get(ctx context.Context, k cacheKey, load func(context.Context) (*dataKey, error)) (*dataKey, error) {
	for {
		c.mu.Lock()
		if el, ok := c.entries[k]; ok {
			e := el.Value.(*cacheEntry)
			if c.usable(e) {
				e.uses++
				c.lru.MoveToFront(el)
				c.mu.Unlock()
				c.hits.Add(1)
				return e.dk, nil
			}
			c.lru.Remove(el)
			delete(c.entries, k)
		}
		if f, ok := c.inflight[k]; ok {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if f.err != nil && !(isContextErr(f.err) && ctx.Err() == nil) {
				return nil, f.err
			}
			continue // the key is cached now (or the load must be retried)
		}
		f := &flight{done: make(chan struct{})}
		c.inflight[k] = f
		c.mu.Unlock()
		c.misses.Add(1)

		dk, err := load(ctx)

		c.mu.Lock()
		delete(c.inflight, k)
		if err == nil {
			c.insertLocked(k, dk, 1)
		}
		f.err = err
		c.mu.Unlock()
		close(f.done)
		return dk, err
	}
}

// put caches dk for k without counting a use, replacing any entry.
func (c *keyCache) put(k cacheKey, dk *dataKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.insertLocked(k, dk, 0)
}

func (c *keyCache) insertLocked(k cacheKey, dk *dataKey, uses int) {
	if el, ok := c.entries[k]; ok {
		c.lru.Remove(el)
	}
	c.entries[k] = c.lru.PushFront(&cacheEntry{key: k, dk: dk, created: c.now(), uses: uses})
	for c.lru.Len() > c.maxEntries {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.entries, old.Value.(*cacheEntry).key)
	}
}

func (c *keyCache) usable(e *cacheEntry) bool {
	return c.now().Sub(e.created) < c.maxAge && (c.maxUses <= 0 || e.uses < c.maxUses)
}

// len is the number of cached keys, usable or not.
func (c *keyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
