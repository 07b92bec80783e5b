package invoice_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/invoice"
	"github.com/tessera-saas/tessera/internal/platform/plan"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// hours returns n requests in every hour of [from, to).
func hours(from, to string, n int64) []invoice.HourRequests {
	var out []invoice.HourRequests
	for h := at(from); h.Before(at(to)); h = h.Add(time.Hour) {
		out = append(out, invoice.HourRequests{Hour: h, Requests: n})
	}
	return out
}

// daily returns a sample of items on every day of [from, to).
func daily(from, to string, items int64) []invoice.StorageSample {
	var out []invoice.StorageSample
	for d := at(from); d.Before(at(to)); d = d.AddDate(0, 0, 1) {
		out = append(out, invoice.StorageSample{Day: d, Items: items})
	}
	return out
}

func concat[T any](parts ...[]T) []T {
	var out []T
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Prices used by every case: the plan's own, so the test also pins them.
//
//	basic:    fee 2900, 50,000 included, 500 / million requests, 2500 / million item-months
//	standard: fee 9900, 500,000 included, 400 / million requests, 2000 / million item-months
//	premium:  fee 49900, 5,000,000 included, 300 / million requests, 1500 / million item-months
var prices = plan.Prices()

func TestPricesAreThePlans(t *testing.T) {
	want := map[catalog.Tier]plan.Price{
		catalog.TierBasic:    {MonthlyFeeCents: 2900, IncludedRequests: 50_000, OverageCentsPerMillion: 500, StorageCentsPerMillionItemMonths: 2500},
		catalog.TierStandard: {MonthlyFeeCents: 9900, IncludedRequests: 500_000, OverageCentsPerMillion: 400, StorageCentsPerMillionItemMonths: 2000},
		catalog.TierPremium:  {MonthlyFeeCents: 49900, IncludedRequests: 5_000_000, OverageCentsPerMillion: 300, StorageCentsPerMillionItemMonths: 1500},
	}
	for tier, p := range want {
		if prices[tier] != p {
			t.Errorf("%s: plan price %+v, the hand computations below assume %+v", tier, prices[tier], p)
		}
	}
}

// ScriptedMonth is the month of the integration tests too
// (internal/app/tenantapi, cmd/tessera): November 2026, 30 days; the tenant
// was created on basic in October and moved to premium on Nov 11 at 09:30.
var ScriptedMonth = struct {
	Tiers   []catalog.TierChange
	Hours   []invoice.HourRequests
	Storage []invoice.StorageSample
}{
	Tiers: []catalog.TierChange{
		{To: catalog.TierPremium, From: catalog.TierBasic, At: at("2026-11-11T09:30:00Z")},
		{To: catalog.TierBasic, At: at("2026-10-05T12:00:00Z")},
	},
	Hours: concat(
		hours("2026-10-31T23:00:00Z", "2026-11-01T00:00:00Z", 999_999), // October: not this invoice
		hours("2026-11-01T00:00:00Z", "2026-11-11T00:00:00Z", 300),     // basic days 1-10
		hours("2026-11-11T00:00:00Z", "2026-11-11T09:00:00Z", 500),     // 11th before the change
		hours("2026-11-11T09:00:00Z", "2026-12-01T00:00:00Z", 1_000),   // premium
		hours("2026-12-01T00:00:00Z", "2026-12-01T01:00:00Z", 777),     // December: not this invoice
	),
	Storage: concat(
		daily("2026-11-01T00:00:00Z", "2026-11-11T00:00:00Z", 10_000),
		daily("2026-11-11T00:00:00Z", "2026-11-21T00:00:00Z", 20_000),
		daily("2026-11-21T00:00:00Z", "2026-11-30T00:00:00Z", 40_000), // no sample on the 30th
	),
}

func TestComputeScriptedMonthWithTierChangeOnThe11th(t *testing.T) {
	inv, err := invoice.Compute(invoice.Input{Month: at("2026-11-01T00:00:00Z"), TenantID: "t-1",
		Tiers: ScriptedMonth.Tiers, Hours: ScriptedMonth.Hours, Storage: ScriptedMonth.Storage, Prices: prices,
		Now: at("2026-12-02T08:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	// By hand. November has 30 days; the change on the 11th takes effect
	// from the 11th's start: basic Nov 1-10 (10 days), premium Nov 11-30
	// (20 days).
	//
	// basic, 10/30 of the month:
	//   subscription  2900 × 10/30 = 966.67                  ->   967
	//   included      50,000 × 10/30 = 16,666.67             -> 16,667 requests
	//   requests      240 hours × 300 = 72,000
	//   overage       72,000 − 16,667 = 55,333 × 500/1e6 = 27.67 ->  28
	//   storage       10 samples of 10,000: average 10,000
	//                 10,000 × 10/30 × 2500/1e6 = 8.33       ->     8
	// premium, 20/30 of the month:
	//   subscription  49900 × 20/30 = 33,266.67              -> 33,267
	//   included      5,000,000 × 20/30 = 3,333,333.33        -> 3,333,333
	//   requests      9 hours × 500 (the 11th before 09:30, billed at the
	//                 day's tier) + 471 hours × 1,000 = 4,500 + 471,000 = 475,500
	//   overage       none                                    ->     0
	//   storage       10 × 20,000 + 9 × 40,000 = 560,000 over 19 samples
	//                 560,000/19 × 20/30 × 1500/1e6 = 29.47   ->    29
	// total: 967 + 28 + 8 + 33,267 + 0 + 29 = 34,299 cents = $342.99
	const wantTotal = 967 + 28 + 8 + 33_267 + 0 + 29
	if wantTotal != 34_299 || inv.Total != wantTotal {
		t.Errorf("total = %d cents, want %d", inv.Total, wantTotal)
	}
	want := []invoice.Line{
		{Kind: "subscription", Tier: "basic", From: "2026-11-01", To: "2026-11-10", Days: 10, Quantity: 1, UnitPrice: 2900, Amount: 967},
		{Kind: "overage", Tier: "basic", From: "2026-11-01", To: "2026-11-10", Days: 10, Quantity: 55_333, UnitPrice: 500, Amount: 28, Requests: 72_000, Included: 16_667},
		{Kind: "storage", Tier: "basic", From: "2026-11-01", To: "2026-11-10", Days: 10, Quantity: 10_000, UnitPrice: 2500, Amount: 8, Samples: 10},
		{Kind: "subscription", Tier: "premium", From: "2026-11-11", To: "2026-11-30", Days: 20, Quantity: 1, UnitPrice: 49900, Amount: 33_267},
		{Kind: "overage", Tier: "premium", From: "2026-11-11", To: "2026-11-30", Days: 20, Quantity: 0, UnitPrice: 300, Amount: 0, Requests: 475_500, Included: 3_333_333},
		{Kind: "storage", Tier: "premium", From: "2026-11-11", To: "2026-11-30", Days: 20, Quantity: 29_474, UnitPrice: 1500, Amount: 29, Samples: 19},
	}
	checkLines(t, inv, want)
	if inv.Draft || inv.Month != "2026-11" || inv.Currency != "usd" || inv.TenantID != "t-1" {
		t.Errorf("invoice = %+v, want the final usd invoice of 2026-11 of t-1", inv)
	}
}

func checkLines(t *testing.T, inv invoice.Invoice, want []invoice.Line) {
	t.Helper()
	if len(inv.Lines) != len(want) {
		t.Fatalf("%d lines %+v, want %d", len(inv.Lines), inv.Lines, len(want))
	}
	var sum int64
	for i, w := range want {
		g := inv.Lines[i]
		sum += g.Amount
		if g.Kind != w.Kind || g.Tier != w.Tier || g.From != w.From || g.To != w.To || g.Days != w.Days || g.Quantity != w.Quantity ||
			g.UnitPrice != w.UnitPrice || g.Amount != w.Amount || g.Requests != w.Requests || g.Included != w.Included || g.Samples != w.Samples {
			t.Errorf("line %d = %+v\n        want %+v", i, g, w)
		}
	}
	if sum != inv.Total {
		t.Errorf("lines sum to %d, total says %d", sum, inv.Total)
	}
}

func TestComputeRules(t *testing.T) {
	nov := at("2026-11-01T00:00:00Z")
	after := at("2026-12-05T00:00:00Z")
	standardSince := []catalog.TierChange{{To: catalog.TierStandard, At: at("2026-01-01T00:00:00Z")}}
	for _, tc := range []struct {
		name    string
		in      invoice.Input
		want    []invoice.Line
		total   int64
		draft   bool
		noteSub string // the storage line's note, when checked
	}{
		{
			// standard all month: 700,000 requests, 30 samples of 1,000,000.
			//   subscription 9900 × 30/30 = 9900
			//   overage (700,000 − 500,000) × 400/1e6 = 80
			//   storage 1,000,000 × 30/30 × 2000/1e6 = 2000
			//   total 9900 + 80 + 2000 = 11,980
			name: "no-change-with-overage",
			in: invoice.Input{Month: nov, Tiers: standardSince, Now: after,
				Hours:   concat(hours("2026-11-01T00:00:00Z", "2026-11-01T07:00:00Z", 100_000)),
				Storage: daily("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z", 1_000_000)},
			want: []invoice.Line{
				{Kind: "subscription", Tier: "standard", From: "2026-11-01", To: "2026-11-30", Days: 30, Quantity: 1, UnitPrice: 9900, Amount: 9900},
				{Kind: "overage", Tier: "standard", From: "2026-11-01", To: "2026-11-30", Days: 30, Quantity: 200_000, UnitPrice: 400, Amount: 80, Requests: 700_000, Included: 500_000},
				{Kind: "storage", Tier: "standard", From: "2026-11-01", To: "2026-11-30", Days: 30, Quantity: 1_000_000, UnitPrice: 2000, Amount: 2000, Samples: 30},
			},
			total: 11_980,
		},
		{
			// exactly the included requests: no overage; no samples: storage 0.
			name: "no-overage-no-samples",
			in: invoice.Input{Month: nov, Tiers: standardSince, Now: after,
				Hours: hours("2026-11-03T00:00:00Z", "2026-11-03T05:00:00Z", 100_000)},
			want: []invoice.Line{
				{Kind: "subscription", Tier: "standard", From: "2026-11-01", To: "2026-11-30", Days: 30, Quantity: 1, UnitPrice: 9900, Amount: 9900},
				{Kind: "overage", Tier: "standard", From: "2026-11-01", To: "2026-11-30", Days: 30, Quantity: 0, UnitPrice: 400, Amount: 0, Requests: 500_000, Included: 500_000},
				{Kind: "storage", Tier: "standard", From: "2026-11-01", To: "2026-11-30", Days: 30, Quantity: 0, UnitPrice: 2000, Amount: 0},
			},
			total:   9900,
			noteSub: "no samples",
		},
		{
			// 1,250 requests over: 1,250 × 400/1e6 = 0.5 cent, rounded half up to 1.
			name: "overage-rounds-half-up",
			in: invoice.Input{Month: nov, Tiers: standardSince, Now: after,
				Hours: concat(hours("2026-11-03T00:00:00Z", "2026-11-03T05:00:00Z", 100_000), hours("2026-11-30T23:00:00Z", "2026-12-01T00:00:00Z", 1_250))},
			want: []invoice.Line{
				{Kind: "subscription", Tier: "standard", From: "2026-11-01", To: "2026-11-30", Days: 30, Quantity: 1, UnitPrice: 9900, Amount: 9900},
				{Kind: "overage", Tier: "standard", From: "2026-11-01", To: "2026-11-30", Days: 30, Quantity: 1_250, UnitPrice: 400, Amount: 1, Requests: 501_250, Included: 500_000},
				{Kind: "storage", Tier: "standard", From: "2026-11-01", To: "2026-11-30", Days: 30, UnitPrice: 2000},
			},
			total: 9901,
		},
		{
			// The month has not ended: a draft, with the whole month's fee.
			name: "draft-month",
			in: invoice.Input{Month: nov, Tiers: standardSince, Now: at("2026-11-15T12:00:00Z"),
				Hours: hours("2026-11-01T00:00:00Z", "2026-11-01T02:00:00Z", 10)},
			want: []invoice.Line{
				{Kind: "subscription", Tier: "standard", From: "2026-11-01", To: "2026-11-30", Days: 30, Quantity: 1, UnitPrice: 9900, Amount: 9900},
				{Kind: "overage", Tier: "standard", From: "2026-11-01", To: "2026-11-30", Days: 30, UnitPrice: 400, Requests: 20, Included: 500_000},
				{Kind: "storage", Tier: "standard", From: "2026-11-01", To: "2026-11-30", Days: 30, UnitPrice: 2000},
			},
			total: 9900,
			draft: true,
		},
		{
			// Created on premium on the 21st at 18:00: billed from the 21st,
			// 10 days: 49900 × 10/30 = 16,633.33 -> 16,633; the requests of
			// the 20th (before it existed) are not billed.
			name: "created-mid-month",
			in: invoice.Input{Month: nov, Tiers: []catalog.TierChange{{To: catalog.TierPremium, At: at("2026-11-21T18:00:00Z")}}, Now: after,
				Hours: concat(hours("2026-11-20T00:00:00Z", "2026-11-20T01:00:00Z", 9_999_999), hours("2026-11-21T00:00:00Z", "2026-11-21T01:00:00Z", 7))},
			want: []invoice.Line{
				{Kind: "subscription", Tier: "premium", From: "2026-11-21", To: "2026-11-30", Days: 10, Quantity: 1, UnitPrice: 49900, Amount: 16_633},
				{Kind: "overage", Tier: "premium", From: "2026-11-21", To: "2026-11-30", Days: 10, UnitPrice: 300, Requests: 7, Included: 1_666_667},
				{Kind: "storage", Tier: "premium", From: "2026-11-21", To: "2026-11-30", Days: 10, UnitPrice: 1500},
			},
			total: 16_633,
		},
		{
			// Two changes on the 11th: the day's tier is the last one's.
			//   basic 1-10: 2900 × 10/30 = 966.67 -> 967
			//   premium 11-30: 49900 × 20/30 -> 33,267; total 34,234
			name: "two-changes-one-day",
			in: invoice.Input{Month: nov, Now: after, Tiers: []catalog.TierChange{
				{To: catalog.TierBasic, At: at("2026-10-01T00:00:00Z")},
				{From: catalog.TierBasic, To: catalog.TierStandard, At: at("2026-11-11T01:00:00Z")},
				{From: catalog.TierStandard, To: catalog.TierPremium, At: at("2026-11-11T20:00:00Z")},
			}},
			want: []invoice.Line{
				{Kind: "subscription", Tier: "basic", From: "2026-11-01", To: "2026-11-10", Days: 10, Quantity: 1, UnitPrice: 2900, Amount: 967},
				{Kind: "overage", Tier: "basic", From: "2026-11-01", To: "2026-11-10", Days: 10, UnitPrice: 500, Included: 16_667},
				{Kind: "storage", Tier: "basic", From: "2026-11-01", To: "2026-11-10", Days: 10, UnitPrice: 2500},
				{Kind: "subscription", Tier: "premium", From: "2026-11-11", To: "2026-11-30", Days: 20, Quantity: 1, UnitPrice: 49900, Amount: 33_267},
				{Kind: "overage", Tier: "premium", From: "2026-11-11", To: "2026-11-30", Days: 20, UnitPrice: 300, Included: 3_333_333},
				{Kind: "storage", Tier: "premium", From: "2026-11-11", To: "2026-11-30", Days: 20, UnitPrice: 1500},
			},
			total: 34_234,
		},
		{
			// February 2027 has 28 days: standard 1-14, basic 15-28.
			//   9900 × 14/28 = 4950; 2900 × 14/28 = 1450; total 6400
			name: "february-down-grade",
			in: invoice.Input{Month: at("2027-02-01T00:00:00Z"), Now: at("2027-03-01T00:00:00Z"), Tiers: []catalog.TierChange{
				{To: catalog.TierStandard, At: at("2026-10-01T00:00:00Z")},
				{From: catalog.TierStandard, To: catalog.TierBasic, At: at("2027-02-15T00:00:00Z")},
			}},
			want: []invoice.Line{
				{Kind: "subscription", Tier: "standard", From: "2027-02-01", To: "2027-02-14", Days: 14, Quantity: 1, UnitPrice: 9900, Amount: 4950},
				{Kind: "overage", Tier: "standard", From: "2027-02-01", To: "2027-02-14", Days: 14, UnitPrice: 400, Included: 250_000},
				{Kind: "storage", Tier: "standard", From: "2027-02-01", To: "2027-02-14", Days: 14, UnitPrice: 2000},
				{Kind: "subscription", Tier: "basic", From: "2027-02-15", To: "2027-02-28", Days: 14, Quantity: 1, UnitPrice: 2900, Amount: 1450},
				{Kind: "overage", Tier: "basic", From: "2027-02-15", To: "2027-02-28", Days: 14, UnitPrice: 500, Included: 25_000},
				{Kind: "storage", Tier: "basic", From: "2027-02-15", To: "2027-02-28", Days: 14, UnitPrice: 2500},
			},
			total: 6400,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Prices, tc.in.TenantID = prices, "t-1"
			inv, err := invoice.Compute(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			checkLines(t, inv, tc.want)
			if inv.Total != tc.total || inv.Draft != tc.draft {
				t.Errorf("total %d draft %v, want %d draft %v", inv.Total, inv.Draft, tc.total, tc.draft)
			}
			if tc.noteSub != "" && inv.Lines[2].Note != tc.noteSub {
				t.Errorf("storage note %q, want %q", inv.Lines[2].Note, tc.noteSub)
			}
		})
	}
}

func TestComputeRefuses(t *testing.T) {
	nov := at("2026-11-01T00:00:00Z")
	tiers := []catalog.TierChange{{To: catalog.TierBasic, At: nov}}
	for _, tc := range []struct {
		name string
		in   invoice.Input
		want error
	}{
		{"no-history", invoice.Input{Month: nov, Prices: prices}, invoice.ErrNoTier},
		{"not-a-month-start", invoice.Input{Month: nov.Add(time.Hour), Tiers: tiers, Prices: prices}, invoice.ErrNotAMonth},
		{"no-price", invoice.Input{Month: nov, Tiers: tiers, Prices: map[catalog.Tier]plan.Price{}}, invoice.ErrNoPrice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := invoice.Compute(tc.in); !errors.Is(err, tc.want) {
				t.Errorf("Compute = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseMonth(t *testing.T) {
	if m, err := invoice.ParseMonth("2026-11"); err != nil || !m.Equal(at("2026-11-01T00:00:00Z")) {
		t.Errorf("ParseMonth(2026-11) = %v, %v", m, err)
	}
	for _, bad := range []string{"", "2026-13", "2026-00", "2026-1", "26-11", "2026-11-01", "2026/11", " 2026-11", "november"} {
		if _, err := invoice.ParseMonth(bad); !errors.Is(err, invoice.ErrBadMonth) {
			t.Errorf("ParseMonth(%q) = %v, want ErrBadMonth", bad, err)
		}
	}
}
