package billing_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/control/billing"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/metering"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
	"github.com/tessera-saas/tessera/internal/wire"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// exchange is one request to stripe-mock and its answer, as they went over
// the wire.
type exchange struct {
	method, path string
	form         url.Values
	status       int
	answer       map[string]any
}

// recorder is an http.RoundTripper that passes every request to stripe-mock
// and keeps a copy of it and of the answer.
type recorder struct {
	mu  sync.Mutex
	got []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	ans, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(ans))
	form, _ := url.ParseQuery(string(body))
	ex := exchange{method: req.Method, path: req.URL.Path, form: form, status: resp.StatusCode}
	_ = json.Unmarshal(ans, &ex.answer)
	r.mu.Lock()
	r.got = append(r.got, ex)
	r.mu.Unlock()
	return resp, nil
}

func (r *recorder) take() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.got
	r.got = nil
	return out
}

// wantIdentifier is the identifier the brief asks for, computed here on
// its own: hex SHA-256 of "tenant|meter|hour".
func wantIdentifier(tenantID string, hour time.Time) string {
	sum := sha256.Sum256([]byte(tenantID + "|api_requests|" + hour.UTC().Format(time.RFC3339)))
	return hex.EncodeToString(sum[:])
}

// TestReportMonthToStripeMock reports a month of a tenant's ledger to
// stripe-mock: one meter event per hour with requests, whose identifier is
// the hash of tenant, meter and hour and whose value is the hour's total
// over writers; each is marked in the ledger with stripe-mock's answer.
// Reporting the month again sends nothing. After a mark is deleted (a crash
// between the send and the mark), the next report sends that hour alone,
// with the same identifier and value. A tenant without a billing customer
// is skipped and sends nothing.
func TestReportMonthToStripeMock(t *testing.T) {
	e := testenv.Setup(t)
	base := testenv.Stripe(t)
	ctx := context.Background()
	ddb := store.NewClient(e.Config)
	cat := store.NewCatalog(ddb, e.Settings.CatalogTable)
	ledger := store.NewLedger(ddb, e.Settings.CatalogTable)

	billed, unbilled := tenant.NewID(), tenant.NewID()
	now := time.Now().UTC()
	for _, rec := range []catalog.Record{
		{TenantID: billed, Name: "Billed", Tier: catalog.TierBasic, Status: catalog.StatusActive, CreatedAt: now, UpdatedAt: now, Version: 1, BillingCustomerID: "cus_tessera1"},
		{TenantID: unbilled, Name: "Unbilled", Tier: catalog.TierBasic, Status: catalog.StatusActive, CreatedAt: now, UpdatedAt: now, Version: 1},
	} {
		if err := cat.CreateTenant(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	dec := nov.AddDate(0, 1, 0)
	// The ledger: hours of Nov with totals from two writers, an hour with
	// none, and hours outside the month.
	type w struct {
		writer string
		hour   time.Time
		n      int64
	}
	writes := []w{
		{"w-1", nov, 30}, {"w-2", nov, 12}, // 42
		{"w-1", nov.Add(7 * time.Hour), 5},                               // 5
		{"w-1", nov.Add(10 * 24 * time.Hour), 1000},                      // 1000
		{"w-2", nov.Add(10*24*time.Hour + 9*time.Hour), 0},               // no requests: not reported
		{"w-1", dec.Add(-time.Hour), 7}, {"w-3", dec.Add(-time.Hour), 8}, // 15
		{"w-1", nov.Add(-time.Hour), 99}, {"w-1", dec, 99}, // other months
	}
	for _, id := range []string{billed, unbilled} {
		for _, x := range writes {
			if _, err := ledger.Record(ctx, x.writer, []metering.Usage{{TenantID: id, Hour: x.hour, Requests: x.n}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := map[time.Time]int64{nov: 42, nov.Add(7 * time.Hour): 5, nov.Add(10 * 24 * time.Hour): 1000, dec.Add(-time.Hour): 15}

	rec := &recorder{}
	job := &billing.Job{Source: wire.NewUsageSource(e.Config, e.Settings), Ledger: ledger,
		Reporter: billing.NewStripe(func(context.Context) (string, error) { return testenv.StripeAPIKey, nil },
			billing.StripeOptions{APIBase: base, HTTPClient: &http.Client{Transport: rec, Timeout: 10 * time.Second}})}

	sum, err := job.Report(ctx, nov, dec, billed)
	if err != nil {
		t.Fatalf("Report: %v (%+v)", err, sum)
	}
	sent := rec.take()
	if len(sent) != len(want) || len(sum.Tenants) != 1 || sum.Tenants[0].Sent != len(want) {
		t.Fatalf("sent %d events (%+v), want %d", len(sent), sum, len(want))
	}
	byHour := map[time.Time]exchange{}
	for _, ex := range sent {
		if ex.method != http.MethodPost || ex.path != "/v1/billing/meter_events" || ex.status != http.StatusOK {
			t.Fatalf("request %s %s answered %d (%v)", ex.method, ex.path, ex.status, ex.answer)
		}
		ts, _ := strconv.ParseInt(ex.form.Get("timestamp"), 10, 64)
		hour := time.Unix(ts, 0).UTC()
		byHour[hour] = ex
		n, ok := want[hour]
		if !ok {
			t.Errorf("sent hour %s, not an hour of the month with requests", hour)
			continue
		}
		if got := ex.form.Get("identifier"); got != wantIdentifier(billed, hour) {
			t.Errorf("hour %s: identifier %s, want %s", hour, got, wantIdentifier(billed, hour))
		}
		if ex.form.Get("payload[value]") != strconv.FormatInt(n, 10) || ex.form.Get("payload[stripe_customer_id]") != "cus_tessera1" ||
			ex.form.Get("event_name") != billing.MeterRequests {
			t.Errorf("hour %s: sent %v, want value %d of cus_tessera1 on api_requests", hour, ex.form, n)
		}
		if ex.answer["object"] != "billing.meter_event" || ex.answer["identifier"] != ex.form.Get("identifier") {
			t.Errorf("hour %s: stripe-mock answered %v", hour, ex.answer)
		}
	}
	marks := func() map[time.Time]store.ReportMark {
		t.Helper()
		ms, err := ledger.Reported(ctx, billed, billing.MeterRequests, nov, dec)
		if err != nil {
			t.Fatal(err)
		}
		out := map[time.Time]store.ReportMark{}
		for _, m := range ms {
			out[m.Hour.UTC()] = m
		}
		return out
	}
	first := marks()
	if len(first) != len(want) {
		t.Fatalf("%d marks, want %d", len(first), len(want))
	}
	for hour, n := range want {
		m := first[hour]
		if m.Value != n || m.Identifier != wantIdentifier(billed, hour) || m.ProviderID != byHour[hour].answer["identifier"] {
			t.Errorf("mark of %s = %+v, want value %d, the sent identifier and stripe-mock's answer", hour, m, n)
		}
	}

	// Again: every hour has its mark, nothing is sent.
	sum, err = job.Report(ctx, nov, dec, billed)
	if err != nil || len(rec.take()) != 0 || sum.Tenants[0].Sent != 0 || sum.Tenants[0].Reported != len(want) {
		t.Fatalf("re-report: %+v, %v; want nothing sent, %d already reported", sum, err, len(want))
	}

	// A crash between the send and the mark: the mark is gone.
	crashed := nov.Add(10 * 24 * time.Hour)
	if _, err := ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(e.Settings.CatalogTable), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: store.UsagePrefix + billed},
		"sk": &types.AttributeValueMemberS{Value: "REPORTED#api_requests#" + crashed.Format(time.RFC3339)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := job.Report(ctx, nov, dec, billed); err != nil {
		t.Fatal(err)
	}
	resent := rec.take()
	if len(resent) != 1 || resent[0].form.Get("identifier") != byHour[crashed].form.Get("identifier") ||
		resent[0].form.Get("payload[value]") != "1000" {
		t.Fatalf("after the lost mark sent %+v, want the hour of %s once more with identifier %s", resent, crashed, byHour[crashed].form.Get("identifier"))
	}
	if again := marks(); len(again) != len(want) || again[crashed].Identifier != first[crashed].Identifier {
		t.Fatalf("marks after the re-send: %+v", again)
	}

	// No customer: skipped, nothing sent, nothing marked.
	sum, err = job.Report(ctx, nov, dec, unbilled)
	if err != nil || len(sum.Tenants) != 1 || sum.Tenants[0].Skipped == "" || len(rec.take()) != 0 {
		t.Fatalf("tenant without a customer: %+v, %v", sum, err)
	}
	if ms, _ := ledger.Reported(ctx, unbilled, billing.MeterRequests, nov, dec); len(ms) != 0 {
		t.Fatalf("tenant without a customer has marks %+v", ms)
	}
}

// TestReportWaitsForTheHourToSettle: the hour that ended less than Settle
// ago is not reported yet.
func TestReportWaitsForTheHourToSettle(t *testing.T) {
	e := testenv.Setup(t)
	base := testenv.Stripe(t)
	ctx := context.Background()
	ddb := store.NewClient(e.Config)
	ledger := store.NewLedger(ddb, e.Settings.CatalogTable)
	id := tenant.NewID()
	now := time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC) // 10:00 ended 5 min ago: 09:00 is the last reportable hour
	if err := store.NewCatalog(ddb, e.Settings.CatalogTable).CreateTenant(ctx, catalog.Record{TenantID: id, Name: "S", Tier: catalog.TierBasic,
		Status: catalog.StatusActive, CreatedAt: now, UpdatedAt: now, Version: 1, BillingCustomerID: "cus_s"}); err != nil {
		t.Fatal(err)
	}
	for _, h := range []time.Time{now.Truncate(time.Hour).Add(-2 * time.Hour), now.Truncate(time.Hour).Add(-time.Hour), now.Truncate(time.Hour)} {
		if _, err := ledger.Record(ctx, "w", []metering.Usage{{TenantID: id, Hour: h, Requests: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{}
	job := &billing.Job{Source: wire.NewUsageSource(e.Config, e.Settings), Ledger: ledger, Now: func() time.Time { return now },
		Reporter: billing.NewStripe(func(context.Context) (string, error) { return testenv.StripeAPIKey, nil },
			billing.StripeOptions{APIBase: base, HTTPClient: &http.Client{Transport: rec}})}
	sum, err := job.Report(ctx, now.AddDate(0, 0, -1), now, id)
	if err != nil || sum.Tenants[0].Sent != 1 || len(rec.take()) != 1 {
		t.Fatalf("Report = %+v, %v; want only 08:00 sent (09:00 ended 5 min ago, within Settle)", sum, err)
	}
}

func TestIdentifier(t *testing.T) {
	h := time.Date(2026, 11, 1, 13, 0, 0, 0, time.FixedZone("x", 3600))
	id := billing.Identifier("t-1", billing.MeterRequests, h)
	if id != wantIdentifier("t-1", h) || len(id) != 64 {
		t.Errorf("Identifier = %s, want %s", id, wantIdentifier("t-1", h))
	}
	for _, other := range []string{billing.Identifier("t-2", billing.MeterRequests, h), billing.Identifier("t-1", "storage", h),
		billing.Identifier("t-1", billing.MeterRequests, h.Add(time.Hour))} {
		if other == id {
			t.Error("two different (tenant, meter, hour) share an identifier")
		}
	}
	if billing.Identifier("t-1", billing.MeterRequests, h.Add(59*time.Minute)) != id {
		t.Error("the identifier of an hour depends on the minute")
	}
}

// A key that cannot be read fails the report, and is not read before it.
func TestStripeKeyReadAtFirstUse(t *testing.T) {
	calls := 0
	s := billing.NewStripe(func(context.Context) (string, error) { calls++; return "", errors.New("no secret") }, billing.StripeOptions{APIBase: "http://127.0.0.1:1"})
	if calls != 0 {
		t.Fatal("the key was read when the reporter was built")
	}
	if _, err := s.Report(context.Background(), []billing.MeterEvent{{TenantID: "t"}}); err == nil || calls != 1 {
		t.Fatalf("Report = %v after %d reads, want the key's error", err, calls)
	}
}
