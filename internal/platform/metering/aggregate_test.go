package metering_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/metering"
)

var h10 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func rec(tenant string, at time.Time, requests int, rcu, wcu float64) metering.Record {
	return metering.Record{TenantID: tenant, Time: at, Requests: requests, ReadCapacityUnits: rcu, WriteCapacityUnits: wcu}
}

// newAggregator starts the aggregator's clock at start, as if created then.
func newAggregator(every time.Duration, start time.Time) *metering.Aggregator {
	a := metering.NewAggregator(every)
	a.MarkFlushed(nil, start)
	return a
}

func TestAggregatorCumulativeTotalsPerTenantAndUTCHour(t *testing.T) {
	a := newAggregator(time.Minute, h10)
	ist := time.FixedZone("IST", 5*3600+1800)
	for _, r := range []metering.Record{
		rec("t-b", h10.Add(5*time.Minute), 1, 0.5, 0),
		rec("t-a", h10.Add(59*time.Minute+59*time.Second+999*time.Millisecond), 1, 1, 1),
		rec("t-a", h10.Add(time.Hour), 1, 0, 2), // the next hour
		rec("t-a", h10.Add(time.Minute), 1, 2, 0),
		rec("t-b", h10.Add(10*time.Minute).In(ist), 2, 0, 1), // 15:40 in India is 10:10 UTC
	} {
		a.Add(r)
	}
	want := []metering.Usage{
		{TenantID: "t-a", Hour: h10, Requests: 2, ReadCapacityUnits: 3, WriteCapacityUnits: 1},
		{TenantID: "t-a", Hour: h10.Add(time.Hour), Requests: 1, WriteCapacityUnits: 2},
		{TenantID: "t-b", Hour: h10, Requests: 3, ReadCapacityUnits: 0.5, WriteCapacityUnits: 1},
	}
	got := a.Dirty()
	if !slices.Equal(got, want) {
		t.Fatalf("Dirty =\n%v\nwant\n%v", got, want)
	}
	for _, u := range got {
		if u.Hour.Location() != time.UTC {
			t.Fatalf("hour %v is not UTC", u.Hour)
		}
	}

	// Flushed, then more: the next Dirty has the hour's whole total since
	// the process started, not the difference.
	a.MarkFlushed(got, h10.Add(time.Hour+time.Minute))
	if d := a.Dirty(); len(d) != 0 {
		t.Fatalf("dirty after a full flush: %v", d)
	}
	a.Add(rec("t-a", h10.Add(time.Hour+2*time.Minute), 1, 0.5, 0))
	want = []metering.Usage{{TenantID: "t-a", Hour: h10.Add(time.Hour), Requests: 2, ReadCapacityUnits: 0.5, WriteCapacityUnits: 2}}
	if got := a.Dirty(); !slices.Equal(got, want) {
		t.Fatalf("Dirty = %v, want %v", got, want)
	}
}

func TestAggregatorDue(t *testing.T) {
	type step struct {
		do   string // "add <minutes after 10:00>", "flush all", "flush none", or "due"
		at   time.Duration
		want bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"nothing changed", []step{{"due", time.Minute, false}, {"due", 3 * time.Hour, false}}},
		{"interval", []step{
			{"add", 10 * time.Second, false},
			{"due", 59 * time.Second, false},
			{"due", time.Minute, true},
		}},
		{"a flush restarts the interval", []step{
			{"add", 10 * time.Second, false},
			{"flush all", 70 * time.Second, false},
			{"due", 3 * time.Minute, false}, // nothing changed since
			{"add", 3 * time.Minute, false},
			{"due", 130 * time.Second, true},
		}},
		{"an hour with changes ends before the interval", []step{
			{"flush all", 59*time.Minute + 30*time.Second, false},
			{"add", 59*time.Minute + 50*time.Second, false},
			{"due", 59*time.Minute + 59*time.Second, false},
			{"due", time.Hour, true},
		}},
		{"only changes in the current hour", []step{
			{"flush all", 60*time.Minute + 5*time.Second, false},
			{"add", 60*time.Minute + 10*time.Second, false},
			{"due", 60*time.Minute + 30*time.Second, false},
		}},
		{"a failed flush at the hour is retried after the interval, not at once", []step{
			{"flush all", 59*time.Minute + 30*time.Second, false},
			{"add", 59*time.Minute + 50*time.Second, false},
			{"due", time.Hour + time.Second, true},
			{"flush none", time.Hour + time.Second, false},
			{"due", time.Hour + 2*time.Second, false},
			{"due", time.Hour + 60*time.Second, false},
			{"due", time.Hour + 61*time.Second, true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAggregator(time.Minute, h10)
			for i, s := range tc.steps {
				now := h10.Add(s.at)
				switch s.do {
				case "add":
					a.Add(rec("t-a", now, 1, 0, 0))
				case "flush all":
					a.MarkFlushed(a.Dirty(), now)
				case "flush none":
					a.MarkFlushed(nil, now)
				case "due":
					if got := a.Due(now); got != s.want {
						t.Fatalf("step %d: Due(10:00 + %v) = %v, want %v", i, s.at, got, s.want)
					}
				}
			}
		})
	}
}

func TestAggregatorMarkFlushedOnlyWhatWasFlushed(t *testing.T) {
	a := newAggregator(time.Minute, h10)
	a.Add(rec("t-a", h10.Add(time.Minute), 1, 1, 0))
	a.Add(rec("t-b", h10.Add(time.Minute), 1, 1, 0))
	a.Add(rec("t-c", h10.Add(time.Minute), 1, 1, 0))
	flushing := a.Dirty()

	// While the ledger write is on its way, t-a gets another request; the
	// ledger settles only t-a and t-b.
	a.Add(rec("t-a", h10.Add(2*time.Minute), 1, 0, 1))
	a.MarkFlushed(flushing[:2], h10.Add(2*time.Minute))

	want := []metering.Usage{
		{TenantID: "t-a", Hour: h10, Requests: 2, ReadCapacityUnits: 1, WriteCapacityUnits: 1}, // the newer total
		{TenantID: "t-c", Hour: h10, Requests: 1, ReadCapacityUnits: 1},                        // never settled
	}
	if got := a.Dirty(); !slices.Equal(got, want) {
		t.Fatalf("Dirty = %v, want %v", got, want)
	}
	// A total flushed under an hour in another zone is the same entry.
	in := want[1]
	in.Hour = in.Hour.In(time.FixedZone("X", -7*3600))
	a.MarkFlushed([]metering.Usage{in}, h10.Add(3*time.Minute))
	if got := a.Dirty(); !slices.Equal(got, want[:1]) {
		t.Fatalf("Dirty = %v, want %v", got, want[:1])
	}
}

// A ledger that keeps the largest total per (tenant, hour), as the store's
// conditional write does, ends with every request counted exactly once,
// however Adds and flushes interleave.
func TestAggregatorConcurrentAddsDuringFlushes(t *testing.T) {
	a := newAggregator(0, h10)
	ledger := map[string]metering.Usage{}
	flush := func(now time.Time) {
		dirty := a.Dirty()
		for _, u := range dirty {
			k := u.TenantID + "@" + u.Hour.Format(time.RFC3339)
			if u.Requests >= ledger[k].Requests {
				ledger[k] = u
			}
		}
		a.MarkFlushed(dirty, now)
	}

	const writers, perWriter = 8, 2000
	tenants := []string{"t-a", "t-b", "t-c"}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				at := h10.Add(time.Duration(i) * 3 * time.Second) // spans two hours
				a.Add(rec(tenants[(w+i)%len(tenants)], at, 1, 0.5, 1))
			}
		})
	}
	done := make(chan struct{})
	var flusher sync.WaitGroup
	flusher.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				flush(h10.Add(time.Minute))
			}
		}
	})
	wg.Wait()
	close(done)
	flusher.Wait()
	flush(h10.Add(2 * time.Minute))
	if d := a.Dirty(); len(d) != 0 {
		t.Fatalf("still dirty after the last flush: %v", d)
	}

	var requests int64
	var rcu, wcu float64
	for _, u := range ledger {
		requests += u.Requests
		rcu += u.ReadCapacityUnits
		wcu += u.WriteCapacityUnits
	}
	if requests != writers*perWriter || rcu != writers*perWriter/2 || wcu != writers*perWriter {
		t.Fatalf("ledger holds %d requests, %v RCU, %v WCU; want %d, %v, %v", requests, rcu, wcu, writers*perWriter, writers*perWriter/2, writers*perWriter)
	}
	if len(ledger) != 6 {
		t.Fatalf("ledger has %d entries, want 3 tenants x 2 hours: %v", len(ledger), fmt.Sprint(ledger))
	}
}

// BenchmarkAggregatorAdd measures counting one request into its tenant's
// hour, over 1,000 tenants.
func BenchmarkAggregatorAdd(b *testing.B) {
	a := metering.NewAggregator(time.Minute)
	recs := make([]metering.Record, 1000)
	for i := range recs {
		recs[i] = rec(fmt.Sprintf("t-%04d", i), h10, 1, 0.5, 0)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		a.Add(recs[i%len(recs)])
		i++
	}
}
