package metering

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// Usage is a tenant's cumulative usage in one UTC hour, as counted by one
// process since it started.
type Usage struct {
	TenantID string
	// Hour is the start of the hour, UTC.
	Hour                                  time.Time
	Requests                              int64
	ReadCapacityUnits, WriteCapacityUnits float64
}

func (u Usage) same(v Usage) bool {
	return u.TenantID == v.TenantID && u.Hour.Equal(v.Hour) && u.Requests == v.Requests &&
		u.ReadCapacityUnits == v.ReadCapacityUnits && u.WriteCapacityUnits == v.WriteCapacityUnits
}

type usageKey struct {
	tenant string
	hour   int64 // Unix seconds of the hour's start
}

func keyOf(tenant string, t time.Time) usageKey {
	return usageKey{tenant: tenant, hour: t.UTC().Truncate(time.Hour).Unix()}
}

// keepHours is how long clean totals stay in memory: a Record is stamped
// with its request's end, so none arrives for an hour this old, and a total
// dropped and restarted would be refused by the ledger as smaller.
const keepHours = 2

// Aggregator keeps per-process cumulative totals per tenant and UTC hour,
// for the durable ledger. Totals are absolute, so writing one twice is
// harmless. It is safe for concurrent use. A Flusher writes them, off the
// request path.
type Aggregator struct {
	every time.Duration

	mu    sync.Mutex
	tot   map[usageKey]Usage
	dirty map[usageKey]bool
	last  time.Time // last MarkFlushed, or creation
}

// NewAggregator returns an aggregator that is due at most every flushEvery
// (for example a minute), and at the end of an hour with changes.
func NewAggregator(flushEvery time.Duration) *Aggregator {
	return &Aggregator{every: flushEvery, tot: map[usageKey]Usage{}, dirty: map[usageKey]bool{}, last: time.Now()}
}

// Add counts one emitted line in its tenant's hour.
func (a *Aggregator) Add(r Record) {
	k := keyOf(r.TenantID, r.Time)
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.tot[k]
	if !ok {
		u = Usage{TenantID: k.tenant, Hour: time.Unix(k.hour, 0).UTC()}
	}
	u.Requests += int64(r.Requests)
	u.ReadCapacityUnits += r.ReadCapacityUnits
	u.WriteCapacityUnits += r.WriteCapacityUnits
	a.tot[k] = u
	a.dirty[k] = true
}

// Due reports whether a flush is owed: something changed since the last
// MarkFlushed and either flushEvery has passed since it, or an hour with
// unflushed changes has ended since it. (An hour that had already ended at
// the last flush waits for flushEvery: a failing ledger is retried at that
// pace, not at every look.)
func (a *Aggregator) Due(now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.due(now)
}

// due is Due with a.mu held.
func (a *Aggregator) due(now time.Time) bool {
	if len(a.dirty) == 0 {
		return false
	}
	if now.Sub(a.last) >= a.every {
		return true
	}
	for k := range a.dirty {
		end := time.Unix(k.hour, 0).Add(time.Hour)
		if !now.Before(end) && end.After(a.last) {
			return true
		}
	}
	return false
}

// Dirty returns the cumulative totals (since process start) of every
// (tenant, hour) changed since it was last flushed, sorted by tenant, then
// hour.
func (a *Aggregator) Dirty() []Usage {
	a.mu.Lock()
	out := make([]Usage, 0, len(a.dirty))
	for k := range a.dirty {
		out = append(out, a.tot[k])
	}
	a.mu.Unlock()
	slices.SortFunc(out, func(x, y Usage) int {
		return cmp.Or(cmp.Compare(x.TenantID, y.TenantID), x.Hour.Compare(y.Hour))
	})
	return out
}

// MarkFlushed records that the flushed totals are durable, as of now. Only
// entries whose totals still equal what was flushed become clean: one that
// an Add changed meanwhile stays dirty, with its newer total. Clean totals
// of hours long past are dropped from memory.
func (a *Aggregator) MarkFlushed(flushed []Usage, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, u := range flushed {
		k := keyOf(u.TenantID, u.Hour)
		if cur, ok := a.tot[k]; ok && cur.same(u) {
			delete(a.dirty, k)
		}
	}
	a.last = now
	cutoff := now.UTC().Truncate(time.Hour).Add(-keepHours * time.Hour).Unix()
	for k := range a.tot {
		if k.hour < cutoff && !a.dirty[k] {
			delete(a.tot, k)
		}
	}
}
