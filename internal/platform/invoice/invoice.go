package invoice

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/plan"
)

// Kinds of invoice lines.
const (
	KindSubscription = "subscription"
	KindOverage      = "overage"
	KindStorage      = "storage"
)

// Units of the lines' unit prices.
const (
	UnitMonth           = "month"
	UnitMillionRequests = "million requests"
	UnitMillionItems    = "million item-months"
)

// Line is one line of an invoice: one kind of charge for one tier segment.
type Line struct {
	Kind string       `json:"kind"`
	Tier catalog.Tier `json:"tier"`
	// From and To are the segment's first and last day (YYYY-MM-DD).
	From string `json:"from"`
	To   string `json:"to"`
	// Days is the segment's length, of DaysInMonth.
	Days        int `json:"days"`
	DaysInMonth int `json:"daysInMonth"`
	// Quantity is what UnitPrice applies to: 1 month for the subscription
	// (prorated by Days), the requests beyond the included ones for
	// overage, the average stored items for storage (prorated by Days).
	Quantity int64 `json:"quantity"`
	// UnitPrice is in cents per Unit.
	UnitPrice int64  `json:"unitPriceCents"`
	Unit      string `json:"unit"`
	// Amount is the line's charge in cents, rounded once (half up).
	Amount int64 `json:"amountCents"`
	// Requests and Included are the overage line's requests made in the
	// segment and the requests included; Samples the storage line's
	// number of daily samples.
	Requests int64  `json:"requests,omitempty"`
	Included int64  `json:"includedRequests,omitempty"`
	Samples  int    `json:"samples,omitempty"`
	Note     string `json:"note,omitempty"`
}

// Invoice is a tenant's invoice for one month.
type Invoice struct {
	TenantID string `json:"tenantId"`
	Month    string `json:"month"`
	Lines    []Line `json:"lines"`
	// Total is the sum of the lines' amounts, in cents.
	Total    int64  `json:"totalCents"`
	Currency string `json:"currency"`
	// Draft: the month has not ended; the figures may still grow.
	Draft bool `json:"draft"`
}

// HourRequests is the ledger's total of requests of one UTC hour (summed
// over writers).
type HourRequests struct {
	Hour     time.Time
	Requests int64
}

// StorageSample is the tenant's stored items as counted on one UTC day.
type StorageSample struct {
	Day   time.Time
	Items int64
}

// Input is what Compute reads.
type Input struct {
	// Month is the month's first instant (Month).
	Month    time.Time
	TenantID string
	// Tiers is the tenant's tier history, in any order; at least one
	// entry (catalog.InitialTier for tenants older than the history).
	Tiers   []catalog.TierChange
	Hours   []HourRequests
	Storage []StorageSample
	Prices  map[catalog.Tier]plan.Price
	// Now decides whether the month has ended (Draft).
	Now time.Time
}

// Errors of Compute and ParseMonth.
var (
	ErrBadMonth  = errors.New("invoice: month must be YYYY-MM")
	ErrNoTier    = errors.New("invoice: no tier history")
	ErrNoPrice   = errors.New("invoice: no price for tier")
	ErrNotAMonth = errors.New("invoice: not the first instant of a UTC month")
)

var monthPattern = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// ParseMonth reads "2026-11" as its first instant, UTC.
func ParseMonth(s string) (time.Time, error) {
	if !monthPattern.MatchString(s) {
		return time.Time{}, fmt.Errorf("%w: %q", ErrBadMonth, s)
	}
	m, err := time.Parse("2006-01", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %q", ErrBadMonth, s)
	}
	return m.UTC(), nil
}

// Month is the month of t (UTC), as its first instant.
func Month(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// segment is a run of consecutive days on one tier: [start, end).
type segment struct {
	tier       catalog.Tier
	start, end time.Time
	days       int
}

// Compute makes the invoice of in.Month (see the package doc for the rules).
func Compute(in Input) (Invoice, error) {
	start := in.Month.UTC()
	if !start.Equal(Month(start)) {
		return Invoice{}, fmt.Errorf("%w: %s", ErrNotAMonth, in.Month)
	}
	end := start.AddDate(0, 1, 0)
	dim := int(end.Sub(start).Hours() / 24)
	inv := Invoice{TenantID: in.TenantID, Month: start.Format("2006-01"), Currency: plan.Currency, Draft: in.Now.Before(end), Lines: []Line{}}
	segs, err := segments(in.Tiers, start, end)
	if err != nil {
		return Invoice{}, err
	}
	for _, s := range segs {
		p, ok := in.Prices[s.tier]
		if !ok {
			return Invoice{}, fmt.Errorf("%w %q", ErrNoPrice, s.tier)
		}
		from, to := s.start.Format(time.DateOnly), s.end.AddDate(0, 0, -1).Format(time.DateOnly)
		line := func(kind string) Line {
			return Line{Kind: kind, Tier: s.tier, From: from, To: to, Days: s.days, DaysInMonth: dim}
		}
		days, m := int64(s.days), int64(dim)

		sub := line(KindSubscription)
		sub.Quantity, sub.UnitPrice, sub.Unit = 1, p.MonthlyFeeCents, UnitMonth
		sub.Amount = roundDiv(p.MonthlyFeeCents*days, m)
		if s.days < dim {
			sub.Note = fmt.Sprintf("%d of %d days", s.days, dim)
		}

		var requests int64
		for _, h := range in.Hours {
			if hr := h.Hour.UTC(); !hr.Before(s.start) && hr.Before(s.end) {
				requests += h.Requests
			}
		}
		over := line(KindOverage)
		over.Included = roundDiv(p.IncludedRequests*days, m)
		over.Requests = requests
		over.Quantity = max(0, requests-over.Included)
		over.UnitPrice, over.Unit = p.OverageCentsPerMillion, UnitMillionRequests
		over.Amount = roundDiv(over.Quantity*p.OverageCentsPerMillion, 1_000_000)

		st := line(KindStorage)
		st.UnitPrice, st.Unit = p.StorageCentsPerMillionItemMonths, UnitMillionItems
		var items int64
		for _, smp := range in.Storage {
			if d := smp.Day.UTC(); !d.Before(s.start) && d.Before(s.end) {
				items += smp.Items
				st.Samples++
			}
		}
		if st.Samples == 0 {
			st.Note = "no samples"
		} else {
			n := int64(st.Samples)
			st.Quantity = roundDiv(items, n)
			// average × D/M item-months × price per million: one rounding.
			st.Amount = roundDiv(items*days*p.StorageCentsPerMillionItemMonths, n*m*1_000_000)
			st.Note = fmt.Sprintf("average of %d daily samples over %d of %d days", st.Samples, s.days, dim)
		}
		inv.Lines = append(inv.Lines, sub, over, st)
		inv.Total += sub.Amount + over.Amount + st.Amount
	}
	return inv, nil
}

// segments splits [start, end) into runs of days on one tier. A day's tier
// is the tier of the last change made before the day ended; days before
// the first change are not billed.
func segments(history []catalog.TierChange, start, end time.Time) ([]segment, error) {
	if len(history) == 0 {
		return nil, ErrNoTier
	}
	h := slices.Clone(history)
	slices.SortStableFunc(h, func(a, b catalog.TierChange) int { return a.At.Compare(b.At) })
	var out []segment
	i := 0
	var tier catalog.Tier
	for day := start; day.Before(end); day = day.AddDate(0, 0, 1) {
		next := day.AddDate(0, 0, 1)
		for i < len(h) && h[i].At.Before(next) {
			tier = h[i].To
			i++
		}
		if tier == "" {
			continue // before the tenant's first entry
		}
		if n := len(out); n > 0 && out[n-1].tier == tier && out[n-1].end.Equal(day) {
			out[n-1].end, out[n-1].days = next, out[n-1].days+1
			continue
		}
		out = append(out, segment{tier: tier, start: day, end: next, days: 1})
	}
	return out, nil
}

// roundDiv is num/den rounded half up, for num >= 0 and den > 0.
func roundDiv(num, den int64) int64 { return (2*num + den) / (2 * den) }
