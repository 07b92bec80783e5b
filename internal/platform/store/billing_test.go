package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/metering"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// TestTierHistoryIsWrittenWithTheChange: Create records the tier a tenant
// starts on, and each Apply that changes the tier appends from/to/at in the
// same transaction; an Apply to the tier it has, or one whose condition
// fails, appends nothing.
func TestTierHistoryIsWrittenWithTheChange(t *testing.T) {
	h := newHarness(t)
	born := time.Date(2026, 10, 5, 12, 0, 0, 0, time.UTC)
	change := time.Date(2026, 11, 11, 9, 30, 0, 0, time.UTC)
	cat := store.NewCatalog(h.ddb, h.e.Settings.CatalogTable)
	id := tenant.NewID()
	if err := cat.CreateTenant(bg, catalog.Record{TenantID: id, Name: "H", Tier: catalog.TierBasic, Status: catalog.StatusActive,
		CreatedAt: born, UpdatedAt: born, Version: 1}); err != nil {
		t.Fatal(err)
	}
	at := cat.WithClock(func() time.Time { return change })
	if _, err := at.Apply(bg, id, store.Change{Tier: catalog.TierPremium}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := at.Apply(bg, id, store.Change{Tier: catalog.TierPremium}, nil, nil); err != nil {
		t.Fatalf("no-op tier change: %v", err)
	}
	refused := cat.WithClock(func() time.Time { return change.Add(time.Hour) })
	if _, err := refused.Apply(bg, id, store.Change{From: []catalog.Status{catalog.StatusSuspended}, Tier: catalog.TierStandard}, nil, nil); !errors.Is(err, store.ErrStatusChanged) {
		t.Fatalf("change from the wrong state: %v, want ErrStatusChanged", err)
	}
	got, err := cat.TierHistory(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	want := []catalog.TierChange{
		{TenantID: id, To: catalog.TierBasic, At: born},
		{TenantID: id, From: catalog.TierBasic, To: catalog.TierPremium, At: change},
	}
	if len(got) != len(want) {
		t.Fatalf("history %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].TenantID != want[i].TenantID || got[i].From != want[i].From || got[i].To != want[i].To || !got[i].At.Equal(want[i].At) {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if rec, _ := cat.GetTenant(bg, id); rec.Tier != catalog.TierPremium {
		t.Errorf("tier %s, want premium", rec.Tier)
	}
}

func TestTierHistoryOfOlderTenants(t *testing.T) {
	born := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := catalog.Record{TenantID: "t-old", Tier: catalog.TierPremium, CreatedAt: born}
	if h := store.TierHistoryOf(rec, nil); len(h) != 1 || h[0].To != catalog.TierPremium || !h[0].At.Equal(born) {
		t.Errorf("no history: %+v, want the record's tier since its creation", h)
	}
	later := catalog.TierChange{TenantID: "t-old", From: catalog.TierStandard, To: catalog.TierPremium, At: born.AddDate(1, 0, 0)}
	if h := store.TierHistoryOf(rec, []catalog.TierChange{later}); len(h) != 2 || h[0].To != catalog.TierStandard || !h[0].At.Equal(born) || h[1] != later {
		t.Errorf("history without its creation: %+v, want standard since creation, then the change", h)
	}
}

// TestLedgerBillingReads: hourly totals sum the writers of each hour and
// keep [from, to); storage samples and report marks of the month only; a
// mark is written once (ErrExists after).
func TestLedgerBillingReads(t *testing.T) {
	h := newHarness(t)
	l := store.NewLedger(h.ddb, h.e.Settings.CatalogTable)
	id := tenant.NewID()
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	dec := nov.AddDate(0, 1, 0)
	for _, w := range []struct {
		writer string
		hour   time.Time
		n      int64
	}{{"w-1", nov, 3}, {"w-2", nov, 4}, {"w-1", nov.Add(5 * time.Hour), 10}, {"w-1", nov.Add(-time.Hour), 100}, {"w-1", dec, 1000}} {
		if _, err := l.Record(bg, w.writer, []metering.Usage{{TenantID: id, Hour: w.hour, Requests: w.n}}); err != nil {
			t.Fatal(err)
		}
	}
	hours, err := l.Hourly(bg, id, nov, dec)
	if err != nil {
		t.Fatal(err)
	}
	if len(hours) != 2 || !hours[0].Hour.Equal(nov) || hours[0].Requests != 7 || hours[1].Requests != 10 {
		t.Fatalf("Hourly = %+v, want 7 at Nov 1 00:00 and 10 at 05:00", hours)
	}
	for _, d := range []string{"2026-10-31", "2026-11-01", "2026-11-30", "2026-12-01"} {
		if err := l.RecordStorage(bg, store.StorageSample{TenantID: id, Day: d, Items: 5, SampledAt: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.RecordStorage(bg, store.StorageSample{TenantID: id, Day: "2026-11-01", Items: 6, SampledAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	samples, err := l.StorageSamples(bg, id, nov, dec)
	if err != nil || len(samples) != 2 || samples[0].Day != "2026-11-01" || samples[0].Items != 6 || samples[1].Day != "2026-11-30" {
		t.Fatalf("StorageSamples = %+v, %v; want Nov 1 (6, the later sample) and Nov 30", samples, err)
	}
	// The hourly read is not confused by the samples and marks in the same partition.
	m := store.ReportMark{TenantID: id, Meter: "api_requests", Hour: nov, Identifier: "abc", Value: 7, ReportedAt: time.Now().UTC()}
	if err := l.MarkReported(bg, m); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkReported(bg, m); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second mark: %v, want ErrExists", err)
	}
	if err := l.MarkReported(bg, store.ReportMark{TenantID: id, Meter: "api_requests", Hour: dec, Identifier: "d", Value: 1000}); err != nil {
		t.Fatal(err)
	}
	marks, err := l.Reported(bg, id, "api_requests", nov, dec)
	if err != nil || len(marks) != 1 || marks[0].Identifier != "abc" || marks[0].Value != 7 {
		t.Fatalf("Reported = %+v, %v; want the Nov 1 mark only", marks, err)
	}
	if again, _ := l.Hourly(bg, id, nov, dec); len(again) != 2 {
		t.Fatalf("Hourly after samples and marks = %+v", again)
	}
	if tot, _ := l.Totals(bg, id, nov, dec); tot.Requests != 17 {
		t.Fatalf("Totals after samples and marks = %d requests, want 17", tot.Requests)
	}
	// The mark is an item of the tenant's USAGE# partition.
	out, err := h.ddb.GetItem(bg, &dynamodb.GetItemInput{TableName: aws.String(h.e.Settings.CatalogTable), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: store.UsagePrefix + id},
			"sk": &types.AttributeValueMemberS{Value: "REPORTED#api_requests#2026-11-01T00:00:00Z"}}})
	if err != nil || out.Item == nil {
		t.Fatalf("mark item: %v, %v", out, err)
	}
}
