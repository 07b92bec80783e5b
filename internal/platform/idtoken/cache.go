package idtoken

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/memo"
)

// CacheTTL is how long Cache keeps a verified token at most: API Gateway's
// default authorizer result TTL (300 s). A token is never kept past its exp.
const CacheTTL = 300 * time.Second

// TokenVerifier checks an ID token and returns its claims: a *Verifier, or
// a Cache in front of one.
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (map[string]string, error)
}

// Cache is the one cache of verified tokens that every verifying component
// shares — the tenant authorizer, the api and tenants functions, and the
// local gateway: it verifies a token once with its TokenVerifier and then
// answers the same token from memory until the token's exp or the TTL,
// whichever comes first. Keys are SHA-256 hashes of the tokens, so no token
// is held in the cache's index; a token that fails verification is never
// kept, and neither is a failure to fetch the keys. The claims it returns
// are shared between callers: read them, never change them.
//
// A warm request costs a SHA-256 of the token and a map lookup under a lock
// (BenchmarkCacheHit), instead of an RSA signature check.
type Cache struct {
	v   TokenVerifier
	ttl time.Duration
	now func() time.Time
	m   *memo.Cache[[sha256.Size]byte, map[string]string]
}

// CacheOption configures a Cache.
type CacheOption func(*Cache)

// WithCacheClock replaces time.Now, for tests.
func WithCacheClock(now func() time.Time) CacheOption { return func(c *Cache) { c.now = now } }

// NewCache keeps up to max verified tokens for at most ttl each.
func NewCache(v TokenVerifier, ttl time.Duration, max int, opts ...CacheOption) *Cache {
	c := &Cache{v: v, ttl: ttl, now: time.Now}
	for _, o := range opts {
		o(c)
	}
	c.m = memo.New[[sha256.Size]byte, map[string]string](max, memo.WithClock(c.now))
	return c
}

// Verify returns the claims of raw, verified now or earlier (see Cache).
// Errors are those of the TokenVerifier: ErrInvalidToken for a rejected
// token.
func (c *Cache) Verify(ctx context.Context, raw string) (map[string]string, error) {
	if raw == "" {
		return nil, reject("empty token")
	}
	if len(raw) > MaxTokenBytes {
		return nil, reject("token too large")
	}
	return c.m.Get(ctx, sha256.Sum256([]byte(raw)), func(ctx context.Context) (map[string]string, time.Time, error) {
		claims, err := c.v.Verify(ctx, raw)
		if err != nil {
			return nil, time.Time{}, err
		}
		until := c.now().Add(c.ttl)
		if exp, ok := Expiry(claims); !ok || exp.Before(until) {
			until = exp // a token without a readable exp is not kept
		}
		return claims, until, nil
	})
}

// Stats reports the cache's hits, misses and loads.
func (c *Cache) Stats() memo.Stats { return c.m.Stats() }
