package metering_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/metering"
	"github.com/tessera-saas/tessera/internal/platform/metering/emftest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// lineShape is the part of a line the tests look at beyond the Record.
type lineShape struct {
	AWS struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
}

func emitOne(t *testing.T, cfg metering.Config, tier catalog.Tier) ([]byte, metering.Record) {
	t.Helper()
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	m := metering.Start("t-01hx3z", tier, "GET /v1/products/{id}", start)
	m.AddCapacity(0.5, 0)
	m.AddCapacity(1, 2)
	var buf bytes.Buffer
	rec, err := metering.NewEmitter(&buf, cfg).Emit(m, 200, start.Add(12345678*time.Nanosecond), "req-1")
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), rec
}

func TestEmittedLinesCarryTheTiersDimensionSets(t *testing.T) {
	shared := [][]string{{"Tier", "Route", "StatusClass"}, {"Tier"}}
	perTenant := append(slices.Clone(shared), []string{"TenantId", "Tier"})
	basicPremium, err := metering.ParseConfig("basic,premium")
	if err != nil {
		t.Fatal(err)
	}
	none, err := metering.ParseConfig("")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  metering.Config
		tier catalog.Tier
		want [][]string
	}{
		{"default/basic", metering.DefaultConfig(), catalog.TierBasic, shared},
		{"default/standard", metering.DefaultConfig(), catalog.TierStandard, shared},
		{"default/premium", metering.DefaultConfig(), catalog.TierPremium, perTenant},
		{"basic,premium/basic", basicPremium, catalog.TierBasic, perTenant},
		{"basic,premium/standard", basicPremium, catalog.TierStandard, shared},
		{"basic,premium/premium", basicPremium, catalog.TierPremium, perTenant},
		{"none/premium", none, catalog.TierPremium, shared},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line, rec := emitOne(t, tc.cfg, tc.tier)
			if !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
				t.Fatalf("not exactly one line: %q", line)
			}
			parsed, err := emftest.ParseLine(line)
			if err != nil {
				t.Fatalf("emitted line is not valid EMF: %v\n%s", err, line)
			}
			if parsed != rec {
				t.Fatalf("ParseLine = %+v\nEmit returned %+v", parsed, rec)
			}
			var shape lineShape
			if err := json.Unmarshal(line, &shape); err != nil {
				t.Fatal(err)
			}
			if n := len(shape.AWS.CloudWatchMetrics); n != 1 {
				t.Fatalf("%d directives, want 1", n)
			}
			d := shape.AWS.CloudWatchMetrics[0]
			if d.Namespace != metering.Namespace {
				t.Errorf("namespace %q", d.Namespace)
			}
			if !slices.EqualFunc(d.Dimensions, tc.want, slices.Equal) {
				t.Errorf("dimension sets %v, want %v", d.Dimensions, tc.want)
			}
			var names []string
			for _, m := range d.Metrics {
				names = append(names, m.Name+"/"+m.Unit)
			}
			if want := []string{"Requests/Count", "Latency/Milliseconds", "ReadCapacityUnits/Count", "WriteCapacityUnits/Count"}; !slices.Equal(names, want) {
				t.Errorf("metrics %v, want %v", names, want)
			}
		})
	}
}

func TestEmitRecord(t *testing.T) {
	start := time.Date(2026, 11, 23, 10, 59, 59, 999_000_000, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		name      string
		status    int
		elapsed   time.Duration
		requestID string
		class     string
		latency   float64
	}{
		{"informational", 101, time.Millisecond, "r1", "1xx", 1},
		{"ok", 200, 12345678 * time.Nanosecond, "r2", "2xx", 12.345},
		{"no content", 204, 999 * time.Nanosecond, "r3", "2xx", 0},
		{"redirect", 301, 1500 * time.Microsecond, "r4", "3xx", 1.5},
		{"not found", 404, 2 * time.Second, "r5", "4xx", 2000},
		{"unavailable", 503, 30 * time.Second, "r6", "5xx", 30000},
		{"status never set", 0, time.Millisecond, "r7", "5xx", 1},
		{"status out of range", 600, time.Millisecond, "r8", "5xx", 1},
		{"clock went backwards", 200, -time.Second, "r9", "2xx", 0},
		{"no request id", 200, time.Millisecond, "", "2xx", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := metering.Start("t-abc", catalog.TierStandard, "POST /v1/orders", start)
			m.AddCapacity(0, 1)
			var buf bytes.Buffer
			end := start.Add(tc.elapsed)
			got, err := metering.NewEmitter(&buf, metering.DefaultConfig()).Emit(m, tc.status, end, tc.requestID)
			if err != nil {
				t.Fatal(err)
			}
			want := metering.Record{TenantID: "t-abc", Tier: "standard", Route: "POST /v1/orders", StatusClass: tc.class,
				RequestID: tc.requestID, Time: time.UnixMilli(end.UnixMilli()).UTC(), Requests: 1, LatencyMs: tc.latency, WriteCapacityUnits: 1}
			if got != want {
				t.Fatalf("Emit = %+v\nwant   %+v", got, want)
			}
			parsed, err := emftest.ParseLine(buf.Bytes())
			if err != nil || parsed != want {
				t.Fatalf("ParseLine = %+v, %v\nwant       %+v", parsed, err, want)
			}
			if strings.Contains(buf.String(), "RequestId") != (tc.requestID != "") {
				t.Fatalf("RequestId member present for request id %q: %s", tc.requestID, buf.Bytes())
			}
		})
	}
}

// A line says what the metrics need and nothing else: no body, no token,
// no decrypted field can reach it.
func TestEmittedLineHasOnlyKnownMembers(t *testing.T) {
	line, _ := emitOne(t, metering.DefaultConfig(), catalog.TierPremium)
	var root map[string]json.RawMessage
	if err := json.Unmarshal(line, &root); err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(func(yield func(string) bool) {
		for k := range root {
			if !yield(k) {
				return
			}
		}
	})
	want := []string{"Latency", "ReadCapacityUnits", "RequestId", "Requests", "Route", "StatusClass", "TenantId", "Tier", "WriteCapacityUnits", "_aws"}
	if !slices.Equal(got, want) {
		t.Fatalf("members %v, want %v", got, want)
	}
}

func TestEmitEscapesStrings(t *testing.T) {
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tenant := "t-\"quoted\"\\ \n\t\x01 <&> \u2028 é \xff"
	m := metering.Start(tenant, catalog.TierBasic, "GET /v1/products/{id}", start)
	var buf bytes.Buffer
	if _, err := metering.NewEmitter(&buf, metering.DefaultConfig()).Emit(m, 200, start, "r\n2"); err != nil {
		t.Fatal(err)
	}
	if bytes.Count(buf.Bytes(), []byte("\n")) != 1 {
		t.Fatalf("a string broke the line: %q", buf.Bytes())
	}
	rec, err := emftest.ParseLine(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.ToValidUTF8(tenant, "\uFFFD"); rec.TenantID != want || rec.RequestID != "r\n2" {
		t.Fatalf("round trip: %q, %q; want %q", rec.TenantID, rec.RequestID, want)
	}
}

func TestGoldenLinePremium(t *testing.T) {
	start := time.Date(2026, 11, 23, 10, 15, 30, 0, time.UTC)
	m := metering.Start("t-01jd8k2m7q9x4r5s6t7v8w9y0z", catalog.TierPremium, "GET /v1/products/{id}", start)
	m.AddCapacity(0.5, 0)
	m.AddCapacity(1, 0)
	var buf bytes.Buffer
	rec, err := metering.NewEmitter(&buf, metering.DefaultConfig()).Emit(m, 200, start.Add(12300*time.Microsecond), "c6af9ac6-7b61-11e6-9a41-93e8deadbeef")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "line-premium.json")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (regenerate with go test ./internal/metering -update)", err)
	}
	if !bytes.Equal(buf.Bytes(), golden) {
		t.Fatalf("emitted line differs from %s (regenerate with -update if intended)\ngot:  %s\nwant: %s", path, buf.Bytes(), golden)
	}
	parsed, err := emftest.ParseLine(golden)
	if err != nil {
		t.Fatal(err)
	}
	if parsed != rec {
		t.Fatalf("golden line parses to %+v, want %+v", parsed, rec)
	}
}

// lineWriter records each Write call, like a pipe to CloudWatch Logs would
// see them.
type lineWriter struct {
	mu     sync.Mutex
	writes [][]byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

func TestConcurrentEmitsNeverInterleave(t *testing.T) {
	var buf bytes.Buffer // not safe for concurrent use: the emitter's mutex must guard it
	calls := &lineWriter{}
	e := metering.NewEmitter(io.MultiWriter(&buf, calls), metering.DefaultConfig())
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			tier := []catalog.Tier{catalog.TierBasic, catalog.TierStandard, catalog.TierPremium}[i%3]
			m := metering.Start("t-abc", tier, "GET /v1/orders/{id}", start)
			var inner sync.WaitGroup
			for range 10 {
				inner.Go(func() { m.AddCapacity(0.5, 1) })
			}
			inner.Wait()
			if _, err := e.Emit(m, 200, time.Now(), "r"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(calls.writes) != 50 {
		t.Fatalf("%d Write calls for 50 lines", len(calls.writes))
	}
	for _, w := range calls.writes {
		if bytes.Count(w, []byte("\n")) != 1 || !bytes.HasSuffix(w, []byte("\n")) {
			t.Fatalf("a Write is not one line: %q", w)
		}
	}
	lines := strings.SplitAfter(buf.String(), "\n")
	if lines[len(lines)-1] != "" || len(lines) != 51 {
		t.Fatalf("%d lines, want 50", len(lines)-1)
	}
	for _, l := range lines[:50] {
		r, err := emftest.ParseLine([]byte(l))
		if err != nil || r.ReadCapacityUnits != 5 || r.WriteCapacityUnits != 10 || r.Requests != 1 {
			t.Fatalf("line %q: %+v %v", l, r, err)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("stdout closed") }

func TestEmitErrors(t *testing.T) {
	m := metering.Start("t-abc", catalog.TierBasic, "GET /v1/orders", time.Now())
	if _, err := metering.NewEmitter(failingWriter{}, metering.DefaultConfig()).Emit(m, 200, time.Now(), "r"); err == nil {
		t.Fatal("a failed write is not reported")
	}
	if _, err := metering.NewEmitter(io.Discard, metering.DefaultConfig()).Emit(nil, 200, time.Now(), "r"); err == nil {
		t.Fatal("a nil meter is not reported")
	}
}

// BenchmarkEmit measures one line (premium, per-tenant dimension set) into
// io.Discard; the meter is made once, as the handler makes it per request.
func BenchmarkEmit(b *testing.B) {
	e := metering.NewEmitter(io.Discard, metering.DefaultConfig())
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	m := metering.Start("t-01jd8k2m7q9x4r5s6t7v8w9y0z", catalog.TierPremium, "GET /v1/products/{id}", start)
	m.AddCapacity(0.5, 0)
	end := start.Add(12300 * time.Microsecond)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Emit(m, 200, end, "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"); err != nil {
			b.Fatal(err)
		}
	}
}
