package metering

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
)

// Record is what one line says.
type Record struct {
	TenantID, Tier, Route, StatusClass, RequestID string
	// Time is the line's _aws.Timestamp: the end of the request, in whole
	// milliseconds, UTC.
	Time     time.Time
	Requests int
	// LatencyMs has microsecond precision.
	LatencyMs                             float64
	ReadCapacityUnits, WriteCapacityUnits float64
}

// Emitter writes one EMF line per request. It is safe for concurrent use.
type Emitter struct {
	w   io.Writer
	cfg Config
	mu  sync.Mutex
}

// NewEmitter writes to w (os.Stdout in Lambda, where CloudWatch Logs
// extracts the metrics; no AWS call is made).
func NewEmitter(w io.Writer, cfg Config) *Emitter { return &Emitter{w: w, cfg: cfg} }

// StatusClass renders an HTTP status as "2xx".."5xx"; anything outside
// 100..599 (a handler that set none) counts as "5xx".
func StatusClass(status int) string {
	switch {
	case status >= 100 && status < 200:
		return "1xx"
	case status >= 200 && status < 300:
		return "2xx"
	case status >= 300 && status < 400:
		return "3xx"
	case status >= 400 && status < 500:
		return "4xx"
	default:
		return "5xx"
	}
}

// Emit writes exactly one line for the request that m metered, ending in
// '\n', with a single Write under the emitter's mutex so that lines of
// concurrent requests never interleave, and returns what it wrote.
func (e *Emitter) Emit(m *Meter, status int, end time.Time, requestID string) (Record, error) {
	if m == nil {
		return Record{}, errors.New("metering: emit: no meter")
	}
	read, write := m.Capacity()
	r := Record{
		TenantID: m.tenantID, Tier: m.tier, Route: m.route, StatusClass: StatusClass(status), RequestID: requestID,
		Time: time.UnixMilli(end.UnixMilli()).UTC(), Requests: 1, LatencyMs: latencyMs(end.Sub(m.start)),
		ReadCapacityUnits: read, WriteCapacityUnits: write,
	}
	bp := bufs.Get().(*[]byte)
	b := appendLine((*bp)[:0], r, e.cfg.PerTenantTiers[catalog.Tier(m.tier)])
	e.mu.Lock()
	_, err := e.w.Write(b)
	e.mu.Unlock()
	if cap(b) <= maxPooled {
		*bp = b
		bufs.Put(bp)
	}
	if err != nil {
		return Record{}, fmt.Errorf("metering: write EMF line for %s: %w", r.Route, err)
	}
	return r, nil
}

// latencyMs renders d in milliseconds with microsecond precision; a clock
// that went backwards gives 0.
func latencyMs(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return float64(d.Microseconds()) / 1000
}

// bufs recycles line buffers: Emit allocates nothing per line.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooled = 16 << 10

// The metadata of a line is constant but for the timestamp and whether the
// tier adds the per-tenant dimension set.
const (
	dimsShared    = `["Tier","Route","StatusClass"],["Tier"]`
	dimsPerTenant = `,["TenantId","Tier"]`
	metricDefs    = `[{"Name":"Requests","Unit":"Count"},{"Name":"Latency","Unit":"Milliseconds"},` +
		`{"Name":"ReadCapacityUnits","Unit":"Count"},{"Name":"WriteCapacityUnits","Unit":"Count"}]`
	directiveHead = `,"CloudWatchMetrics":[{"Namespace":"` + Namespace + `","Dimensions":[` + dimsShared
	directiveTail = `],"Metrics":` + metricDefs + `}]}`
)

// appendLine encodes r as one EMF document followed by '\n'. Member order
// is fixed (the golden file pins it).
func appendLine(b []byte, r Record, perTenant bool) []byte {
	b = append(b, `{"_aws":{"Timestamp":`...)
	b = strconv.AppendInt(b, r.Time.UnixMilli(), 10)
	b = append(b, directiveHead...)
	if perTenant {
		b = append(b, dimsPerTenant...)
	}
	b = append(b, directiveTail...)
	b = append(b, `,"TenantId":`...)
	b = appendString(b, r.TenantID)
	b = append(b, `,"Tier":`...)
	b = appendString(b, r.Tier)
	b = append(b, `,"Route":`...)
	b = appendString(b, r.Route)
	b = append(b, `,"StatusClass":`...)
	b = appendString(b, r.StatusClass)
	b = append(b, `,"Requests":`...)
	b = strconv.AppendInt(b, int64(r.Requests), 10)
	b = append(b, `,"Latency":`...)
	b = strconv.AppendFloat(b, r.LatencyMs, 'f', -1, 64)
	b = append(b, `,"ReadCapacityUnits":`...)
	b = strconv.AppendFloat(b, r.ReadCapacityUnits, 'f', -1, 64)
	b = append(b, `,"WriteCapacityUnits":`...)
	b = strconv.AppendFloat(b, r.WriteCapacityUnits, 'f', -1, 64)
	if r.RequestID != "" {
		b = append(b, `,"RequestId":`...)
		b = appendString(b, r.RequestID)
	}
	return append(b, '}', '\n')
}

// appendString appends s as a JSON string, byte for byte as encoding/json
// encodes it with HTML escaping off. The strings of a line (tenant ids,
// tiers, route templates, status classes, request ids) are printable ASCII
// without '"' or '\\', which encoding/json copies verbatim: those are
// appended as they are, without allocating. Any other string is encoded by
// encoding/json.
func appendString(b []byte, s string) []byte {
	if verbatim(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	w := bytes.NewBuffer(b)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	// A string always encodes and a bytes.Buffer takes every write, so
	// Encode cannot fail; it ends the value with a newline.
	_ = enc.Encode(s)
	return bytes.TrimSuffix(w.Bytes(), []byte{'\n'})
}

// verbatim reports whether JSON takes s as it is between quotes: printable
// ASCII (and DEL) other than '"' and '\\'.
func verbatim(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
