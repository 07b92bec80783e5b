package emftest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tessera-saas/tessera/internal/platform/metering"
)

// ErrInvalidEMF wraps every reason a line is not valid EMF.
var ErrInvalidEMF = errors.New("emftest: invalid EMF")

// Limits of the EMF specification and its JSON schema.
const (
	maxEventBytes      = 1 << 20 // a CloudWatch Logs event
	maxNamespaceChars  = 1024
	maxDimensionKeys   = 30 // per DimensionSet
	maxDimensionKey    = 250
	maxDimensionValue  = 1024
	maxMetrics         = 100 // per MetricDirective
	maxMetricNameChars = 1024
	maxMetricValues    = 100 // in an array-valued metric target
)

// validUnits are the units the EMF specification allows (MetricDatum's).
var validUnits = map[string]bool{
	"Seconds": true, "Microseconds": true, "Milliseconds": true,
	"Bytes": true, "Kilobytes": true, "Megabytes": true, "Gigabytes": true, "Terabytes": true,
	"Bits": true, "Kilobits": true, "Megabits": true, "Gigabits": true, "Terabits": true,
	"Percent": true, "Count": true,
	"Bytes/Second": true, "Kilobytes/Second": true, "Megabytes/Second": true, "Gigabytes/Second": true, "Terabytes/Second": true,
	"Bits/Second": true, "Kilobits/Second": true, "Megabits/Second": true, "Gigabits/Second": true, "Terabits/Second": true,
	"Count/Second": true, "None": true,
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidEMF, fmt.Sprintf(format, args...))
}

// ParseLine parses one line and validates it against the EMF specification:
// the line is one JSON object (surrounding whitespace aside) with an _aws
// object holding an integer, non-negative Timestamp (epoch milliseconds)
// and a non-empty CloudWatchMetrics array. Each MetricDirective has a
// Namespace (1 to 1024 characters), Dimensions (at least one DimensionSet,
// each an array of at most 30 keys; each key names a root member whose
// value is a string of at most 1024 characters) and Metrics (at most 100;
// each Name names a root member that is a number or an array of at most
// 100 numbers; Unit, if given, is one of the allowed units;
// StorageResolution, if given, is 1 or 60).
//
// The Record holds the Tessera members found (absent ones stay zero; an
// array-valued metric is summed).
func ParseLine(line []byte) (metering.Record, error) {
	if len(line) > maxEventBytes {
		return metering.Record{}, invalid("%d bytes, more than a log event holds", len(line))
	}
	root, ok := object(line)
	if !ok {
		return metering.Record{}, invalid("not a JSON object")
	}
	rawAWS, ok := root["_aws"]
	if !ok {
		return metering.Record{}, invalid("no _aws member")
	}
	meta, ok := object(rawAWS)
	if !ok {
		return metering.Record{}, invalid("_aws is not an object")
	}
	rawTS, ok := meta["Timestamp"]
	if !ok {
		return metering.Record{}, invalid("no _aws.Timestamp")
	}
	ts, ok := integer(rawTS)
	if !ok || ts < 0 {
		return metering.Record{}, invalid("_aws.Timestamp %s is not a non-negative integer of epoch milliseconds", rawTS)
	}
	directives, ok := array(meta["CloudWatchMetrics"])
	if !ok {
		return metering.Record{}, invalid("_aws.CloudWatchMetrics is missing or not an array")
	}
	if len(directives) == 0 {
		return metering.Record{}, invalid("_aws.CloudWatchMetrics is empty")
	}
	for i, raw := range directives {
		if err := checkDirective(root, raw); err != nil {
			return metering.Record{}, fmt.Errorf("%w (directive %d)", err, i)
		}
	}

	r := metering.Record{Time: time.UnixMilli(ts).UTC()}
	for key, dst := range map[string]*string{"TenantId": &r.TenantID, "Tier": &r.Tier, "Route": &r.Route, "StatusClass": &r.StatusClass, "RequestId": &r.RequestID} {
		if s, ok := str(root[key]); ok {
			*dst = s
		}
	}
	var requests float64
	for key, dst := range map[string]*float64{"Requests": &requests, "Latency": &r.LatencyMs, "ReadCapacityUnits": &r.ReadCapacityUnits, "WriteCapacityUnits": &r.WriteCapacityUnits} {
		if vs, ok := numbers(root[key]); ok {
			for _, v := range vs {
				*dst += v
			}
		}
	}
	r.Requests = int(requests)
	return r, nil
}

func checkDirective(root map[string]json.RawMessage, raw json.RawMessage) error {
	d, ok := object(raw)
	if !ok {
		return invalid("a MetricDirective is not an object")
	}
	ns, ok := str(d["Namespace"])
	if !ok {
		return invalid("Namespace is missing or not a string")
	}
	if n := utf8.RuneCountInString(ns); n == 0 || n > maxNamespaceChars {
		return invalid("Namespace has %d characters (1 to %d)", n, maxNamespaceChars)
	}

	sets, ok := array(d["Dimensions"])
	if !ok {
		return invalid("Dimensions is missing or not an array")
	}
	if len(sets) == 0 {
		return invalid("Dimensions holds no DimensionSet")
	}
	for _, rawSet := range sets {
		set, ok := array(rawSet)
		if !ok {
			return invalid("a DimensionSet is not an array")
		}
		if len(set) > maxDimensionKeys {
			return invalid("a DimensionSet has %d keys (at most %d)", len(set), maxDimensionKeys)
		}
		for _, rawKey := range set {
			key, ok := str(rawKey)
			if !ok {
				return invalid("dimension key %s is not a string", rawKey)
			}
			if n := utf8.RuneCountInString(key); n == 0 || n > maxDimensionKey {
				return invalid("dimension key %q has %d characters (1 to %d)", key, n, maxDimensionKey)
			}
			target, present := root[key]
			if !present {
				return invalid("dimension %q has no root member", key)
			}
			v, ok := str(target)
			if !ok {
				return invalid("dimension %q is %s, not a string", key, target)
			}
			if n := utf8.RuneCountInString(v); n > maxDimensionValue {
				return invalid("dimension %q value has %d characters (at most %d)", key, n, maxDimensionValue)
			}
		}
	}

	defs, ok := array(d["Metrics"])
	if !ok {
		return invalid("Metrics is missing or not an array")
	}
	if len(defs) > maxMetrics {
		return invalid("%d MetricDefinitions (at most %d)", len(defs), maxMetrics)
	}
	for _, rawDef := range defs {
		def, ok := object(rawDef)
		if !ok {
			return invalid("a MetricDefinition is not an object")
		}
		name, ok := str(def["Name"])
		if !ok {
			return invalid("a MetricDefinition has no string Name")
		}
		if n := utf8.RuneCountInString(name); n == 0 || n > maxMetricNameChars {
			return invalid("metric name %q has %d characters (1 to %d)", name, n, maxMetricNameChars)
		}
		if rawUnit, present := def["Unit"]; present {
			if unit, ok := str(rawUnit); !ok || !validUnits[unit] {
				return invalid("metric %q has unit %s", name, rawUnit)
			}
		}
		if rawRes, present := def["StorageResolution"]; present {
			if res, ok := integer(rawRes); !ok || (res != 1 && res != 60) {
				return invalid("metric %q has StorageResolution %s (1 or 60)", name, rawRes)
			}
		}
		target, present := root[name]
		if !present {
			return invalid("metric %q has no root member", name)
		}
		vs, ok := numbers(target)
		if !ok {
			return invalid("metric %q is %s, not a number or an array of numbers", name, target)
		}
		if len(vs) > maxMetricValues {
			return invalid("metric %q has %d values (at most %d)", name, len(vs), maxMetricValues)
		}
	}
	return nil
}

// The JSON type of a value is told by its first byte; encoding/json would
// otherwise accept null for a string or a number, and a quoted number for
// a json.Number.

func kind(raw json.RawMessage) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

func object(raw []byte) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if kind(raw) != '{' || json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	return m, true
}

func array(raw json.RawMessage) ([]json.RawMessage, bool) {
	var a []json.RawMessage
	if kind(raw) != '[' || json.Unmarshal(raw, &a) != nil {
		return nil, false
	}
	return a, true
}

func str(raw json.RawMessage) (string, bool) {
	var s string
	if kind(raw) != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func number(raw json.RawMessage) (float64, bool) {
	if k := kind(raw); k != '-' && (k < '0' || k > '9') {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	return f, err == nil // out-of-range numbers are refused too
}

// integer accepts a JSON number written without fraction or exponent.
func integer(raw json.RawMessage) (int64, bool) {
	if k := kind(raw); k != '-' && (k < '0' || k > '9') {
		return 0, false
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	return n, err == nil
}

// numbers accepts a number or an array of numbers.
func numbers(raw json.RawMessage) ([]float64, bool) {
	if f, ok := number(raw); ok {
		return []float64{f}, true
	}
	elems, ok := array(raw)
	if !ok {
		return nil, false
	}
	vs := make([]float64, 0, len(elems))
	for _, e := range elems {
		f, ok := number(e)
		if !ok {
			return nil, false
		}
		vs = append(vs, f)
	}
	return vs, true
}
