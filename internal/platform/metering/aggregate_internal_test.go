package metering

import (
	"testing"
	"time"
)

func TestAggregatorDropsCleanTotalsOfHoursLongPast(t *testing.T) {
	h := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	a := NewAggregator(time.Minute)
	for i := range 4 {
		a.Add(Record{TenantID: "t-a", Time: h.Add(time.Duration(i) * time.Hour), Requests: 1})
	}
	a.Add(Record{TenantID: "t-b", Time: h, Requests: 1})
	flushed := a.Dirty()
	a.Add(Record{TenantID: "t-b", Time: h, Requests: 1}) // dirty again: must be kept
	a.MarkFlushed(flushed, h.Add(3*time.Hour+time.Minute))
	// The cutoff is 11:00: 10:00 of t-a goes, 10:00 of t-b is still dirty.
	want := map[usageKey]bool{
		keyOf("t-a", h.Add(time.Hour)): true, keyOf("t-a", h.Add(2*time.Hour)): true, keyOf("t-a", h.Add(3*time.Hour)): true,
		keyOf("t-b", h): true,
	}
	if len(a.tot) != len(want) {
		t.Fatalf("kept %d totals, want %d: %v", len(a.tot), len(want), a.tot)
	}
	for k := range want {
		if _, ok := a.tot[k]; !ok {
			t.Fatalf("total %v was dropped", k)
		}
	}
}
