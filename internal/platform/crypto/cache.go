package crypto

import (
	"context"
	"crypto/cipher"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/memo"
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

// keyCache holds at most maxEntries data keys (least recently used go
// first), each for at most maxAge from its load and, when maxUses > 0, for
// at most maxUses uses. It is a memo.Cache, whose rules for concurrent and
// failed loads apply (see package memo).
type keyCache struct {
	maxAge time.Duration
	now    func() time.Time
	keys   *memo.Cache[cacheKey, *dataKey]
}

func newKeyCache(maxAge time.Duration, maxUses, maxEntries int, now func() time.Time) *keyCache {
	return &keyCache{maxAge: maxAge, now: now,
		keys: memo.New[cacheKey, *dataKey](maxEntries, memo.WithClock(now), memo.WithMaxUses(maxUses))}
}

// lookup returns a usable cached key for k, counting one use of it. Seal
// and Open try it before get, so that they build get's loader (a closure,
// which escapes) only on a miss.
func (c *keyCache) lookup(k cacheKey) (*dataKey, bool) { return c.keys.Lookup(k) }

// get returns a usable key for k, counting one use of it, or loads one.
func (c *keyCache) get(ctx context.Context, k cacheKey, load func(context.Context) (*dataKey, error)) (*dataKey, error) {
	return c.keys.Get(ctx, k, func(ctx context.Context) (*dataKey, time.Time, error) {
		dk, err := load(ctx)
		return dk, c.now().Add(c.maxAge), err
	})
}

// put caches dk for k without counting a use, replacing any entry.
func (c *keyCache) put(k cacheKey, dk *dataKey) { c.keys.Set(k, dk, c.now().Add(c.maxAge)) }

// stats returns the hits (keys served from the cache, possibly after
// waiting for another caller's load) and the misses (calls that ran a load).
func (c *keyCache) stats() (hits, misses int64) {
	s := c.keys.Stats()
	return s.Hits + s.Shared, s.Loads
}

// len is the number of cached keys, usable or not.
func (c *keyCache) len() int { return c.keys.Len() }
