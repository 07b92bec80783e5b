package export_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/export"
)

// sample is the SQS event in events/sqs-export-requested.json.
func sample(t *testing.T) events.SQSMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "events", "sqs-export-requested.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Records) != 1 {
		t.Fatalf("sample holds %d records, want 1", len(ev.Records))
	}
	return ev.Records[0]
}

func attrs(r events.SQSMessage) map[string]string {
	m := map[string]string{}
	for k, v := range r.MessageAttributes {
		if v.StringValue != nil {
			m[k] = *v.StringValue
		}
	}
	return m
}

func TestSampleMessageParsesAndRoundTrips(t *testing.T) {
	r := sample(t)
	m, err := export.Parse(r.Body, attrs(r))
	if err != nil {
		t.Fatal(err)
	}
	want := export.Message{SchemaVersion: 1, TenantID: "t-01jx4k7m9q2r5s8v1w3y6z0a2b", ExportID: "01JX4K9T3D6F8H0K2M4P6R8T0V",
		Tier: catalog.TierBasic, RequestID: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"}
	if m != want {
		t.Fatalf("parsed %+v, want %+v", m, want)
	}
	if m.Body() != r.Body {
		t.Fatalf("Body() = %s, want the sample's body %s", m.Body(), r.Body)
	}
	again, err := export.Parse(m.Body(), m.Attributes())
	if err != nil || again != m {
		t.Fatalf("round trip = %+v, %v", again, err)
	}
	if r.EventSource != "aws:sqs" || r.MessageAttributes[export.AttrTenantID].DataType != "String" {
		t.Fatalf("sample is not an SQS record with string attributes: %+v", r)
	}
}

func TestParseRefusesBadMessages(t *testing.T) {
	good := export.Message{SchemaVersion: 1, TenantID: "t-ab12", ExportID: "01JX4K9T3D6F8H0K2M4P6R8T0V", Tier: catalog.TierPremium}
	with := func(f func(*export.Message)) string {
		m := good
		f(&m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := []struct {
		name  string
		body  string
		attrs map[string]string
	}{
		{"not json", `tenantId=t-ab12`, nil},
		{"truncated", good.Body()[:20], nil},
		{"two values", good.Body() + good.Body(), nil},
		{"unknown field", `{"schemaVersion":1,"tenantId":"t-ab12","exportId":"01JX4K9T3D6F8H0K2M4P6R8T0V","tier":"basic","table":"x"}`, nil},
		{"no schema version", with(func(m *export.Message) { m.SchemaVersion = 0 }), nil},
		{"future schema version", with(func(m *export.Message) { m.SchemaVersion = 2 }), nil},
		{"no tenant", with(func(m *export.Message) { m.TenantID = "" }), nil},
		{"tenant with #", with(func(m *export.Message) { m.TenantID = "t-ab#ORDER" }), nil},
		{"tenant upper case", with(func(m *export.Message) { m.TenantID = "T-AB12" }), nil},
		{"tenant wildcard", with(func(m *export.Message) { m.TenantID = "t-*" }), nil},
		{"export id not an id", with(func(m *export.Message) { m.ExportID = "../../t-other/exports/x" }), nil},
		{"export id lower case", with(func(m *export.Message) { m.ExportID = "01jx4k9t3d6f8h0k2m4p6r8t0v" }), nil},
		{"unknown tier", with(func(m *export.Message) { m.Tier = "platinum" }), nil},
		{"tenant attribute disagrees", good.Body(), map[string]string{export.AttrTenantID: "t-other"}},
		{"export attribute disagrees", good.Body(), map[string]string{export.AttrExportID: "01JX4K9T3D6F8H0K2M4P6R8T0W"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if m, err := export.Parse(tc.body, tc.attrs); !errors.Is(err, export.ErrMalformed) {
				t.Fatalf("Parse = %+v, %v; want ErrMalformed", m, err)
			}
		})
	}
	if _, err := export.Parse(good.Body(), nil); err != nil {
		t.Fatalf("a message without attributes: %v", err)
	}
}

func TestObjectKeyIsUnderTheTenantsPrefix(t *testing.T) {
	if got := export.ObjectKey("t-ab12", "01JX4K9T3D6F8H0K2M4P6R8T0V"); got != "t-ab12/exports/01JX4K9T3D6F8H0K2M4P6R8T0V.jsonl" {
		t.Fatalf("ObjectKey = %q", got)
	}
}

func TestFinished(t *testing.T) {
	for s, want := range map[export.Status]bool{export.StatusQueued: false, export.StatusRunning: false, export.StatusDone: true, export.StatusFailed: true} {
		if s.Finished() != want {
			t.Errorf("%s.Finished() = %v", s, !want)
		}
	}
}
