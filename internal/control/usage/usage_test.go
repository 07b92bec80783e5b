package usage_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/control/usage"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/apievent"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/metering/emftest"
	"github.com/tessera-saas/tessera/internal/wire"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type lines struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }

func call(t *testing.T, app *wire.API, tenantID, method, resource, id, body string) int {
	t.Helper()
	var params map[string]string
	if id != "" {
		params = map[string]string{"id": id}
	}
	// A request of the tenant's admin, with a real ID token (the handler
	// verifies it).
	ev := apievent.Request(t, tenantID, method, resource, params, body)
	if tenantID == "" {
		apievent.SetAuthorization(&ev, "") // anonymous: no token
	}
	ev.RequestContext.RequestID = fmt.Sprintf("r-%d", time.Now().UnixNano())
	resp, err := app.Handler.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

// TestReportCountsExactlyTheScriptedRequests is the acceptance test of
// metering: a scripted mix of requests from three tenants, then the finance
// report (CSV) shows exactly those requests per tenant, and every EMF line
// the handler printed is valid EMF that adds up to the same figures.
func TestReportCountsExactlyTheScriptedRequests(t *testing.T) {
	e := testenv.Setup(t)
	emf := &lines{}
	app := wire.NewAPI(e.Config, e.Settings, slog.New(slog.NewJSONHandler(io.Discard, nil)), emf)
	a, b, c := fixture.NewTenant(t, e, "ua"), fixture.NewTenant(t, e, "ub"), fixture.NewTenant(t, e, "uc")
	want := map[string]int64{}
	product := func(sku string) string {
		return `{"name":"P","sku":"` + sku + `","price":{"amount":1,"currency":"EUR"}}`
	}
	script := []struct {
		tenant           fixture.Tenant
		method, resource string
		body             string
		status, repeat   int
	}{
		{a, "POST", "/v1/products", "", 201, 5},
		{a, "GET", "/v1/products", "", 200, 3},
		{b, "POST", "/v1/products", "", 201, 2},
		{b, "GET", "/v1/orders", "", 200, 4},
		{b, "POST", "/v1/products", `{"name":`, 400, 1}, // rejected requests are metered too
		{c, "GET", "/v1/products", "", 200, 1},
	}
	n := 0
	for _, s := range script {
		for i := 0; i < s.repeat; i++ {
			body := s.body
			if s.method == "POST" && body == "" {
				n++
				body = product(fmt.Sprintf("S-%d", n))
			}
			if got := call(t, app, s.tenant.Record.TenantID, s.method, s.resource, "", body); got != s.status {
				t.Fatalf("%s %s = %d, want %d", s.method, s.resource, got, s.status)
			}
			want[s.tenant.Record.TenantID]++
		}
	}
	// An unauthenticated request is metered but belongs to no tenant.
	if got := call(t, app, "", "GET", "/v1/products", "", ""); got != 401 {
		t.Fatalf("anonymous = %d", got)
	}
	if err := app.Handler.FlushUsage(context.Background()); err != nil {
		t.Fatal(err)
	}

	// EMF: one valid line per request, adding up per tenant.
	fromEMF := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(emf.b.Bytes()))
	total := 0
	for sc.Scan() {
		rec, err := emftest.ParseLine(sc.Bytes())
		if err != nil {
			t.Fatalf("invalid EMF line %v: %s", err, sc.Text())
		}
		total++
		fromEMF[rec.TenantID] += int64(rec.Requests)
		if rec.Route == "" || rec.StatusClass == "" || rec.LatencyMs <= 0 {
			t.Fatalf("incomplete line %+v", rec)
		}
		// moto reports a constant capacity for queries (and none for
		// transactions): this checks the plumbing, not the figures.
		if rec.TenantID == a.Record.TenantID && rec.Route == "GET /v1/products" && rec.ReadCapacityUnits <= 0 {
			t.Fatalf("a query consumed no capacity: %+v", rec)
		}
	}
	if total != 17 {
		t.Fatalf("%d EMF lines for 17 requests", total)
	}
	for id, n := range want {
		if fromEMF[id] != n {
			t.Fatalf("EMF says %d requests for %s, want %d", fromEMF[id], id, n)
		}
	}

	// The finance report, as CSV.
	day := time.Now().UTC().Truncate(24 * time.Hour)
	rows, err := usage.Build(context.Background(), wire.NewUsageSource(e.Config, e.Settings), day, day.Add(24*time.Hour), "", usage.DefaultPrices)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := usage.WriteCSV(&out, rows); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != strings.Join(usage.Header, ",") {
		t.Fatalf("header %v", recs[0])
	}
	got := map[string][]string{}
	for _, r := range recs[1:] {
		got[r[0]] = r
	}
	for id, n := range want {
		row, ok := got[id]
		if !ok {
			t.Fatalf("tenant %s missing from the report", id)
		}
		if row[4] != strconv.FormatInt(n, 10) {
			t.Fatalf("report says %s requests for %s, want %d", row[4], id, n)
		}
		if cost, _ := strconv.ParseFloat(row[8], 64); cost <= 0 {
			t.Fatalf("no cost estimate for %s: %v", id, row)
		}
	}
	if items := got[a.Record.TenantID][7]; items != "15" { // 5 products and their 10 sku reservations (exact and lower case)
		t.Fatalf("tenant a stores %s items, want 15", items)
	}
	// A second flush of the same totals changes nothing (idempotent).
	if err := app.Handler.FlushUsage(context.Background()); err != nil {
		t.Fatal(err)
	}
	again, err := usage.Build(context.Background(), wire.NewUsageSource(e.Config, e.Settings), day, day.Add(24*time.Hour), a.Record.TenantID, usage.DefaultPrices)
	if err != nil || len(again) != 1 || again[0].Requests != want[a.Record.TenantID] {
		t.Fatalf("after a repeated flush: %+v, %v", again, err)
	}
	var js bytes.Buffer
	if err := usage.WriteJSON(&js, again, day, day.Add(24*time.Hour), usage.DefaultPrices); err != nil || !json.Valid(js.Bytes()) {
		t.Fatalf("json report: %v", err)
	}
}
