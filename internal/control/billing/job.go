package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// Ledger is the part of the usage ledger the job reads and writes
// (*store.Ledger).
type Ledger interface {
	Hourly(ctx context.Context, tenantID string, from, to time.Time) ([]store.HourTotal, error)
	Reported(ctx context.Context, tenantID, meter string, from, to time.Time) ([]store.ReportMark, error)
	MarkReported(ctx context.Context, m store.ReportMark) error
	StorageSamples(ctx context.Context, tenantID string, from, to time.Time) ([]store.StorageSample, error)
	RecordStorage(ctx context.Context, s store.StorageSample) error
}

// Source lists the tenants and counts a tenant's stored items with its own
// scoped credentials (usage.StoreSource).
type Source interface {
	Tenants(ctx context.Context, only string) ([]catalog.Record, error)
	StoredItems(ctx context.Context, rec catalog.Record) (int64, error)
}

// Settle is how long after an hour ends the job waits before reporting it:
// the api function's processes flush their totals of an hour to the ledger
// within about a minute and a half of its end (wire.LedgerFlushEvery,
// LedgerCheckEvery, the flush's timeout); a later flush of a reported hour
// is in the invoice but not at Stripe (the README's gaps).
const Settle = 10 * time.Minute

// Job reports the ledger's ended hours and samples storage.
type Job struct {
	Source   Source
	Ledger   Ledger
	Reporter Reporter
	Log      *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// TenantReport is what a report did for one tenant.
type TenantReport struct {
	TenantID string `json:"tenantId"`
	// Skipped says why the tenant's usage was not reported (no customer).
	Skipped string `json:"skipped,omitempty"`
	// Sent events were recorded by the provider and marked; Reported hours
	// had a mark already; Failed events were refused (Errors says why) and
	// are sent again by the next run.
	Sent     int      `json:"sent"`
	Reported int      `json:"alreadyReported"`
	Failed   int      `json:"failed"`
	Errors   []string `json:"errors,omitempty"`
}

// Summary is the outcome of Report.
type Summary struct {
	From    time.Time      `json:"from"`
	To      time.Time      `json:"to"`
	Tenants []TenantReport `json:"tenants"`
}

// ErrReportFailed: some events were not recorded (Summary says which).
var ErrReportFailed = errors.New("billing: some meter events were not reported")

func (j *Job) now() time.Time {
	if j.Now != nil {
		return j.Now().UTC()
	}
	return time.Now().UTC()
}

// Report sends, for every tenant (or only the one named) with a customer,
// each hour of [from, to) that has ended at least Settle ago, has requests
// and has no mark, then marks it. A crash between the send and the mark
// sends the hour again on the next run with the same identifier.
func (j *Job) Report(ctx context.Context, from, to time.Time, only string) (Summary, error) {
	ended := j.now().Add(-Settle).Truncate(time.Hour)
	if to.After(ended) {
		to = ended
	}
	sum := Summary{From: from.UTC(), To: to.UTC(), Tenants: []TenantReport{}}
	if !from.Before(to) {
		return sum, nil
	}
	tenants, err := j.Source.Tenants(ctx, only)
	if err != nil {
		return sum, fmt.Errorf("report usage: %w", err)
	}
	failed := false
	for _, rec := range tenants {
		tr := j.reportTenant(ctx, rec, from, to)
		failed = failed || tr.Failed > 0
		sum.Tenants = append(sum.Tenants, tr)
	}
	if failed {
		return sum, ErrReportFailed
	}
	return sum, nil
}

func (j *Job) reportTenant(ctx context.Context, rec catalog.Record, from, to time.Time) TenantReport {
	tr := TenantReport{TenantID: rec.TenantID}
	fail := func(n int, err error) TenantReport {
		tr.Failed += n
		tr.Errors = append(tr.Errors, err.Error())
		return tr
	}
	if rec.BillingCustomerID == "" {
		tr.Skipped = "no billing customer"
		return tr
	}
	hours, err := j.Ledger.Hourly(ctx, rec.TenantID, from, to)
	if err != nil {
		return fail(1, err)
	}
	marks, err := j.Ledger.Reported(ctx, rec.TenantID, MeterRequests, from, to)
	if err != nil {
		return fail(1, err)
	}
	marked := map[time.Time]bool{}
	for _, m := range marks {
		marked[m.Hour.UTC()] = true
	}
	var events []MeterEvent
	for _, h := range hours {
		switch {
		case h.Requests <= 0:
		case marked[h.Hour.UTC()]:
			tr.Reported++
		default:
			events = append(events, MeterEvent{TenantID: rec.TenantID, Customer: rec.BillingCustomerID, Meter: MeterRequests,
				Hour: h.Hour.UTC(), Value: h.Requests, Identifier: Identifier(rec.TenantID, MeterRequests, h.Hour)})
		}
	}
	if len(events) == 0 {
		return tr
	}
	results, err := j.Reporter.Report(ctx, events)
	if err != nil {
		return fail(len(events), err)
	}
	for _, r := range results {
		if r.Err != nil {
			fail(1, r.Err)
			continue
		}
		err := j.Ledger.MarkReported(ctx, store.ReportMark{TenantID: rec.TenantID, Meter: r.Event.Meter, Hour: r.Event.Hour,
			Identifier: r.Event.Identifier, Value: r.Event.Value, ProviderID: r.ID, ProviderCreated: r.Created, ReportedAt: j.now()})
		switch {
		case errors.Is(err, store.ErrExists): // another run marked it meanwhile: same identifier, deduplicated
			tr.Reported++
		case err != nil:
			// Sent but not marked: the next run sends it again, with the
			// same identifier.
			fail(1, err)
		default:
			tr.Sent++
		}
	}
	if j.Log != nil {
		j.Log.Info("usage reported", "tenantId", rec.TenantID, "sent", tr.Sent, "alreadyReported", tr.Reported, "failed", tr.Failed)
	}
	return tr
}

// sampled are the statuses whose tenants have data to count.
var sampled = map[catalog.Status]bool{catalog.StatusActive: true, catalog.StatusSuspended: true,
	catalog.StatusRestoring: true, catalog.StatusMigrating: true}

// SampleStorage records, for every tenant with data (or only the one
// named) that has no sample of day yet, its stored items counted now with
// its own scoped credentials. It returns how many samples it wrote.
func (j *Job) SampleStorage(ctx context.Context, day time.Time, only string) (int, error) {
	day = day.UTC().Truncate(24 * time.Hour)
	tenants, err := j.Source.Tenants(ctx, only)
	if err != nil {
		return 0, fmt.Errorf("sample storage: %w", err)
	}
	n := 0
	var errs []error
	for _, rec := range tenants {
		if !sampled[rec.Status] || rec.Placement.Table == "" {
			continue
		}
		have, err := j.Ledger.StorageSamples(ctx, rec.TenantID, day, day.AddDate(0, 0, 1))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(have) > 0 {
			continue
		}
		items, err := j.Source.StoredItems(ctx, rec)
		if err != nil {
			errs = append(errs, fmt.Errorf("count items of %s: %w", rec.TenantID, err))
			continue
		}
		if err := j.Ledger.RecordStorage(ctx, store.StorageSample{TenantID: rec.TenantID, Day: day.Format(time.DateOnly), Items: items, SampledAt: j.now()}); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// ReportWindow is how far back a scheduled run looks for hours not yet
// reported: a run that failed is caught up by the next ones for three
// days (Stripe accepts events of the past 35 days).
const ReportWindow = 72 * time.Hour

// Scheduled is one scheduled run: today's storage samples, then the ended
// hours of the last ReportWindow.
func (j *Job) Scheduled(ctx context.Context) (Summary, error) {
	now := j.now()
	_, serr := j.SampleStorage(ctx, now, "")
	sum, rerr := j.Report(ctx, now.Add(-ReportWindow).Truncate(time.Hour), now, "")
	return sum, errors.Join(serr, rerr)
}

// Handle is the Lambda entry point (the hourly EventBridge schedule; its
// event is ignored).
func (j *Job) Handle(ctx context.Context) (Summary, error) {
	sum, err := j.Scheduled(ctx)
	if err != nil && j.Log != nil {
		j.Log.Error("billing run", "error", err.Error())
	}
	return sum, err
}
