package emftest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/metering"
	"github.com/tessera-saas/tessera/internal/platform/metering/emftest"
)

// doc is a valid EMF document as Go values; the cases below break one rule
// each.
type doc map[string]any

func validDoc() doc {
	return doc{
		"_aws": map[string]any{
			"Timestamp": 1795428930012,
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "Tessera",
				"Dimensions": []any{[]any{"Tier", "Route"}, []any{"Tier"}},
				"Metrics": []any{
					map[string]any{"Name": "Requests", "Unit": "Count"},
					map[string]any{"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 60},
				},
			}},
		},
		"Tier": "basic", "Route": "GET /v1/orders", "Requests": 1, "Latency": 12.5,
	}
}

func (d doc) aws() map[string]any { return d["_aws"].(map[string]any) }
func (d doc) directive() map[string]any {
	return d.aws()["CloudWatchMetrics"].([]any)[0].(map[string]any)
}
func (d doc) metric() map[string]any { return d.directive()["Metrics"].([]any)[0].(map[string]any) }

func (d doc) line(t *testing.T) []byte {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keys returns n distinct member names, each set on d to value.
func (d doc) keys(n int, value any) []any {
	ks := make([]any, n)
	for i := range ks {
		k := fmt.Sprintf("K%d", i)
		d[k] = value
		ks[i] = k
	}
	return ks
}

func (d doc) metrics(n int) []any {
	ms := make([]any, n)
	for i, k := range d.keys(n, 1) {
		ms[i] = map[string]any{"Name": k}
	}
	return ms
}

func numbersOf(n int) []any {
	vs := make([]any, n)
	for i := range vs {
		vs[i] = i
	}
	return vs
}

func TestParseLineAcceptsValidEMF(t *testing.T) {
	specExample := `{"_aws":{"Timestamp":1574109732004,"CloudWatchMetrics":[{"Namespace":"lambda-function-metrics","Dimensions":[["functionVersion"]],"Metrics":[{"Name":"time","Unit":"Milliseconds","StorageResolution":60}]}]},"functionVersion":"$LATEST","time":100,"requestId":"989ffbf8-9ace-4817-a57c-e4dd734019ee"}`
	if _, err := emftest.ParseLine([]byte(specExample)); err != nil {
		t.Fatalf("the specification's example: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(d doc)
	}{
		{"as is", func(doc) {}},
		{"an empty DimensionSet", func(d doc) { d.directive()["Dimensions"] = []any{[]any{}} }},
		{"30 keys in a DimensionSet", func(d doc) { d.directive()["Dimensions"] = []any{d.keys(30, "v")} }},
		{"a 250-character key", func(d doc) { k := strings.Repeat("k", 250); d[k] = "v"; d.directive()["Dimensions"] = []any{[]any{k}} }},
		{"a 1024-character dimension value", func(d doc) { d["Tier"] = strings.Repeat("é", 1024) }},
		{"an empty dimension value", func(d doc) { d["Tier"] = "" }},
		{"100 metrics", func(d doc) { d.directive()["Metrics"] = d.metrics(100) }},
		{"no metrics", func(d doc) { d.directive()["Metrics"] = []any{} }},
		{"a metric without Unit", func(d doc) { delete(d.metric(), "Unit") }},
		{"every allowed unit", func(d doc) { d.metric()["Unit"] = "Count/Second" }},
		{"a high-resolution metric", func(d doc) { d.metric()["StorageResolution"] = 1 }},
		{"an array of 100 values", func(d doc) { d["Requests"] = numbersOf(100) }},
		{"a negative and a fractional value", func(d doc) { d["Requests"] = []any{-1, 0.25, 1e-9} }},
		{"a second directive", func(d doc) {
			d.aws()["CloudWatchMetrics"] = append(d.aws()["CloudWatchMetrics"].([]any), map[string]any{
				"Namespace": "Other", "Dimensions": []any{[]any{}}, "Metrics": []any{map[string]any{"Name": "Latency"}}})
		}},
		{"other _aws members", func(d doc) { d.aws()["LogGroupName"] = "api" }},
		{"other root members", func(d doc) { d["Nested"] = map[string]any{"a": []any{nil, true}} }},
		{"timestamp zero", func(d doc) { d.aws()["Timestamp"] = 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := validDoc()
			tc.change(d)
			if _, err := emftest.ParseLine(d.line(t)); err != nil {
				t.Fatalf("rejected: %v\n%s", err, d.line(t))
			}
		})
	}
}

func TestParseLineRejectsInvalidEMF(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(d doc)
		raw    func(valid string) string // instead of change, for what Go values cannot express
	}{
		// The root node.
		{name: "not JSON", raw: func(v string) string { return v[:len(v)-1] }},
		{name: "data after the object", raw: func(v string) string { return v + ` {}` }},
		{name: "text before the object", raw: func(v string) string { return "2026-11-23T10:00:00Z\t" + v }},
		{name: "root is an array", raw: func(v string) string { return "[" + v + "]" }},
		{name: "root is null", raw: func(string) string { return "null" }},
		{name: "larger than a log event", change: func(d doc) { d["Padding"] = strings.Repeat("x", 1<<20) }},
		// The metadata object.
		{name: "no _aws", change: func(d doc) { delete(d, "_aws") }},
		{name: "_aws not an object", change: func(d doc) { d["_aws"] = []any{} }},
		{name: "no Timestamp", change: func(d doc) { delete(d.aws(), "Timestamp") }},
		{name: "Timestamp a string", change: func(d doc) { d.aws()["Timestamp"] = "1795428930012" }},
		{name: "Timestamp null", change: func(d doc) { d.aws()["Timestamp"] = nil }},
		{name: "Timestamp with a fraction", change: func(d doc) { d.aws()["Timestamp"] = json.Number("1795428930012.5") }},
		{name: "Timestamp with an exponent", change: func(d doc) { d.aws()["Timestamp"] = json.Number("1.795428930012e12") }},
		{name: "Timestamp negative", change: func(d doc) { d.aws()["Timestamp"] = -1 }},
		{name: "no CloudWatchMetrics", change: func(d doc) { delete(d.aws(), "CloudWatchMetrics") }},
		{name: "CloudWatchMetrics not an array", change: func(d doc) { d.aws()["CloudWatchMetrics"] = d.directive() }},
		{name: "CloudWatchMetrics empty", change: func(d doc) { d.aws()["CloudWatchMetrics"] = []any{} }},
		// The MetricDirective object.
		{name: "a directive not an object", change: func(d doc) { d.aws()["CloudWatchMetrics"] = []any{"Tessera"} }},
		{name: "no Namespace", change: func(d doc) { delete(d.directive(), "Namespace") }},
		{name: "Namespace not a string", change: func(d doc) { d.directive()["Namespace"] = 7 }},
		{name: "Namespace empty", change: func(d doc) { d.directive()["Namespace"] = "" }},
		{name: "Namespace of 1025 characters", change: func(d doc) { d.directive()["Namespace"] = strings.Repeat("n", 1025) }},
		{name: "no Dimensions", change: func(d doc) { delete(d.directive(), "Dimensions") }},
		{name: "Dimensions null", change: func(d doc) { d.directive()["Dimensions"] = nil }},
		{name: "Dimensions without a DimensionSet", change: func(d doc) { d.directive()["Dimensions"] = []any{} }},
		{name: "Dimensions not an array of arrays", change: func(d doc) { d.directive()["Dimensions"] = []any{"Tier"} }},
		{name: "a null DimensionSet", change: func(d doc) { d.directive()["Dimensions"] = []any{nil} }},
		{name: "31 keys in a DimensionSet", change: func(d doc) { d.directive()["Dimensions"] = []any{d.keys(31, "v")} }},
		{name: "a dimension key not a string", change: func(d doc) { d.directive()["Dimensions"] = []any{[]any{1}} }},
		{name: "a dimension key null", change: func(d doc) { d.directive()["Dimensions"] = []any{[]any{nil}} }},
		{name: "an empty dimension key", change: func(d doc) { d[""] = "v"; d.directive()["Dimensions"] = []any{[]any{""}} }},
		{name: "a 251-character dimension key", change: func(d doc) {
			k := strings.Repeat("k", 251)
			d[k] = "v"
			d.directive()["Dimensions"] = []any{[]any{k}}
		}},
		{name: "a dimension without its member", change: func(d doc) { delete(d, "Route") }},
		{name: "a nested dimension reference", change: func(d doc) { d["A"] = map[string]any{"a": "v"}; d.directive()["Dimensions"] = []any{[]any{"A.a"}} }},
		{name: "a dimension value a number", change: func(d doc) { d["Tier"] = 1 }},
		{name: "a dimension value null", change: func(d doc) { d["Tier"] = nil }},
		{name: "a dimension value an array", change: func(d doc) { d["Tier"] = []any{"basic"} }},
		{name: "a dimension value of 1025 characters", change: func(d doc) { d["Tier"] = strings.Repeat("é", 1025) }},
		{name: "no Metrics", change: func(d doc) { delete(d.directive(), "Metrics") }},
		{name: "Metrics null", change: func(d doc) { d.directive()["Metrics"] = nil }},
		{name: "Metrics not an array", change: func(d doc) { d.directive()["Metrics"] = d.metric() }},
		{name: "101 metrics", change: func(d doc) { d.directive()["Metrics"] = d.metrics(101) }},
		// The MetricDefinition object.
		{name: "a metric definition not an object", change: func(d doc) { d.directive()["Metrics"] = []any{"Requests"} }},
		{name: "a metric without Name", change: func(d doc) { delete(d.metric(), "Name") }},
		{name: "a metric Name not a string", change: func(d doc) { d.metric()["Name"] = 1 }},
		{name: "a metric Name empty", change: func(d doc) { d[""] = 1; d.metric()["Name"] = "" }},
		{name: "a metric Name of 1025 characters", change: func(d doc) { k := strings.Repeat("m", 1025); d[k] = 1; d.metric()["Name"] = k }},
		{name: "a metric without its member", change: func(d doc) { delete(d, "Requests") }},
		{name: "a metric value a string", change: func(d doc) { d["Requests"] = "1" }},
		{name: "a metric value null", change: func(d doc) { d["Requests"] = nil }},
		{name: "a metric value a boolean", change: func(d doc) { d["Requests"] = true }},
		{name: "a metric value an object", change: func(d doc) { d["Requests"] = map[string]any{"Value": 1} }},
		{name: "a metric array with a string", change: func(d doc) { d["Requests"] = []any{1, "2"} }},
		{name: "a metric array with null", change: func(d doc) { d["Requests"] = []any{1, nil} }},
		{name: "a metric array of 101 values", change: func(d doc) { d["Requests"] = numbersOf(101) }},
		{name: "a metric value out of range", change: func(d doc) { d["Requests"] = json.Number("1e400") }},
		{name: "a unit not allowed", change: func(d doc) { d.metric()["Unit"] = "Requests" }},
		{name: "a unit in the wrong case", change: func(d doc) { d.metric()["Unit"] = "count" }},
		{name: "a unit empty", change: func(d doc) { d.metric()["Unit"] = "" }},
		{name: "a unit not a string", change: func(d doc) { d.metric()["Unit"] = 1 }},
		{name: "a unit null", change: func(d doc) { d.metric()["Unit"] = nil }},
		{name: "a StorageResolution of 30", change: func(d doc) { d.metric()["StorageResolution"] = 30 }},
		{name: "a StorageResolution a string", change: func(d doc) { d.metric()["StorageResolution"] = "60" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := validDoc()
			var line []byte
			if tc.raw != nil {
				line = []byte(tc.raw(string(d.line(t))))
			} else {
				tc.change(d)
				line = d.line(t)
			}
			rec, err := emftest.ParseLine(line)
			if !errors.Is(err, emftest.ErrInvalidEMF) {
				t.Fatalf("ParseLine = %+v, %v; want ErrInvalidEMF\n%.600s", rec, err, line)
			}
			t.Log(err)
		})
	}
}

func TestParseLineRecord(t *testing.T) {
	line := `{"_aws":{"Timestamp":1795428930012,"CloudWatchMetrics":[{"Namespace":"Tessera","Dimensions":[["Tier"]],"Metrics":[{"Name":"Requests","Unit":"Count"},{"Name":"ReadCapacityUnits","Unit":"Count"}]}]},` +
		`"TenantId":"t-a","Tier":"basic","Route":"GET /v1/orders","StatusClass":"4xx","RequestId":"r-1","Requests":[1,1,1],"Latency":3.25,"ReadCapacityUnits":[0.5,1.5],"WriteCapacityUnits":2}` + "\n"
	got, err := emftest.ParseLine([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := metering.Record{TenantID: "t-a", Tier: "basic", Route: "GET /v1/orders", StatusClass: "4xx", RequestID: "r-1",
		Time: time.UnixMilli(1795428930012).UTC(), Requests: 3, LatencyMs: 3.25, ReadCapacityUnits: 2, WriteCapacityUnits: 2}
	if got != want {
		t.Fatalf("ParseLine = %+v\nwant        %+v", got, want)
	}
}
