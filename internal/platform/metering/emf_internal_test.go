package metering

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
)

func encodingJSON(t testing.TB, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

var stringCases = []string{
	"", "t-01jd8k2m7q9x4r5s6t7v8w9y0z", "GET /v1/products/{id}", `"quoted"`, `back\slash`,
	"\b\f\n\r\t", "\x00\x01\x1f\x7f", "<&>", "é ü 日本 🙂", "\u2028\u2029", "bad \xff\xfe utf-8", "\xe2\x80",
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range stringCases {
		if got, want := appendString(nil, s), encodingJSON(t, s); !bytes.Equal(got, want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range stringCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := appendString(nil, s), encodingJSON(t, s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

// BenchmarkAppendString measures both paths: a string JSON takes verbatim
// (every string of a real line) and one encoding/json has to escape.
func BenchmarkAppendString(b *testing.B) {
	for _, s := range []string{"GET /v1/products/{id}", "t-\"quoted\"\n"} {
		b.Run(strconv.Quote(s), func(b *testing.B) {
			buf := make([]byte, 0, 64)
			b.ReportAllocs()
			for b.Loop() {
				buf = appendString(buf[:0], s)
			}
		})
	}
}
