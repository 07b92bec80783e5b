package catalog

import (
	"context"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/memo"
)

// Cache is a bounded, TTL-limited cache of tenant records in front of a
// Reader. Concurrent misses for one tenant share one read; misses (including
// ErrNotFound) are not cached, so a newly onboarded tenant is seen at once.
type Cache struct {
	r     Reader
	ttl   time.Duration
	now   func() time.Time
	cache *memo.Cache[string, Record]
}

// RefreshAheadShare: a record read in the last 1/RefreshAheadShare of its
// TTL is reread in the background, so a tenant in steady use never waits for
// the catalog on its request path; a record is still never used past its
// TTL.
const RefreshAheadShare = 5

// NewCache caches up to max records for ttl each.
func NewCache(r Reader, ttl time.Duration, max int) *Cache {
	return &Cache{r: r, ttl: ttl, now: time.Now, cache: memo.New[string, Record](max, memo.WithRefreshAhead(ttl/RefreshAheadShare))}
}

// Get returns the tenant's record, from memory when fresh.
func (c *Cache) Get(ctx context.Context, tenantID string) (Record, error) {
	return c.cache.Get(ctx, tenantID, func(ctx context.Context) (Record, time.Time, error) {
		rec, err := c.r.GetTenant(ctx, tenantID)
		return rec, c.now().Add(c.ttl), err
	})
}

// Forget drops a tenant's record, e.g. after a lifecycle change made here.
func (c *Cache) Forget(tenantID string) { c.cache.Forget(tenantID) }
