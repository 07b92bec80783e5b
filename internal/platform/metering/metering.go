package metering

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
)

// Namespace of every Tessera metric.
const Namespace = "Tessera"

// Config chooses the dimension sets of the lines.
type Config struct {
	// PerTenantTiers lists the tiers whose lines add the dimension set
	// [TenantId, Tier]. Each tenant of such a tier costs one custom metric
	// per metric name (about $0.30 a month each); every line carries
	// TenantId as a plain property anyway, for Logs Insights.
	PerTenantTiers map[catalog.Tier]bool
}

// DefaultConfig gives premium tenants per-tenant metrics, and no one else.
func DefaultConfig() Config {
	return Config{PerTenantTiers: map[catalog.Tier]bool{catalog.TierPremium: true}}
}

// ParseConfig reads a comma-separated tier list such as "premium,standard"
// (TESSERA_METRICS_PER_TENANT_TIERS). "" gives no tier per-tenant metrics;
// an unknown tier is an error.
func ParseConfig(s string) (Config, error) {
	c := Config{PerTenantTiers: map[catalog.Tier]bool{}}
	for f := range strings.SplitSeq(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		t := catalog.Tier(f)
		if !t.Valid() {
			return Config{}, fmt.Errorf("metering: per-tenant metrics: unknown tier %q", f)
		}
		c.PerTenantTiers[t] = true
	}
	return c, nil
}

// Meter accumulates one request's usage. It is safe for concurrent use:
// the store may add capacity from several goroutines.
type Meter struct {
	tenantID, tier, route string
	start                 time.Time

	mu          sync.Mutex
	read, write float64
}

// Start begins metering a request of tenantID on route, which is the
// resource template ("GET /v1/products/{id}"), never the concrete path.
func Start(tenantID string, tier catalog.Tier, route string, start time.Time) *Meter {
	return &Meter{tenantID: tenantID, tier: string(tier), route: route, start: start}
}

// AddCapacity adds consumed DynamoDB capacity units. Negative and
// non-finite figures, which DynamoDB never reports, are ignored so that a
// line is always valid JSON.
func (m *Meter) AddCapacity(read, write float64) {
	read, write = sane(read), sane(write)
	m.mu.Lock()
	m.read += read
	m.write += write
	m.mu.Unlock()
}

func sane(f float64) float64 {
	if f > 0 && !math.IsInf(f, 1) {
		return f
	}
	return 0 // negative, zero, NaN or +Inf
}

// Capacity returns the capacity consumed so far.
func (m *Meter) Capacity() (read, write float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.read, m.write
}

type ctxKey struct{}

// NewContext returns a copy of ctx carrying m.
func NewContext(ctx context.Context, m *Meter) context.Context {
	return context.WithValue(ctx, ctxKey{}, m)
}

// FromContext returns the request's meter, if ctx has one.
func FromContext(ctx context.Context) (*Meter, bool) {
	m, ok := ctx.Value(ctxKey{}).(*Meter)
	return m, ok && m != nil
}
