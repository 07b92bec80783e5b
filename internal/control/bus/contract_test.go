package bus_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/outbox"
)

// eventsDir holds the samples and, under schemas/, the schemas.
var eventsDir = filepath.Join("..", "..", "..", "events")

// allTypes are the control-plane events, in lifecycle order.
var allTypes = []bus.DetailType{
	bus.TenantOnboardingRequested, bus.TenantProvisioned, bus.TenantProvisioningFailed,
	bus.TenantProvisioningCheck, bus.TenantSuspended, bus.TenantResumed, bus.TenantTierChanged,
	bus.TenantOffboardingRequested, bus.TenantOffboarded, bus.TenantOffboardingFailed,
	bus.TenantBackupRequested, bus.TenantRestoreRequested, bus.TenantRestored, bus.TenantRestoreFailed,
	bus.TenantMigrated, bus.TenantMigrationFailed,
}

var (
	schemasOnce sync.Once
	schemas     map[bus.DetailType]*jsonschema.Schema
	schemasErr  error
)

// schemaOf compiles events/schemas/<dt>.schema.json (all of them, once),
// asserting formats such as date-time.
func schemaOf(t *testing.T, dt bus.DetailType) *jsonschema.Schema {
	t.Helper()
	schemasOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat()
		schemas = map[bus.DetailType]*jsonschema.Schema{}
		for _, dt := range allTypes {
			path, err := filepath.Abs(filepath.Join(eventsDir, "schemas", string(dt)+".schema.json"))
			if err != nil {
				schemasErr = err
				return
			}
			if schemas[dt], schemasErr = c.Compile(path); schemasErr != nil {
				return
			}
		}
	})
	if schemasErr != nil {
		t.Fatalf("compile schemas: %v", schemasErr)
	}
	return schemas[dt]
}

// validateJSON validates a JSON document against the schema of dt.
func validateJSON(t *testing.T, dt bus.DetailType, body []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("not JSON: %v\n%s", err, body)
	}
	return schemaOf(t, dt).Validate(inst)
}

var kebabBreak = regexp.MustCompile(`([a-z0-9])([A-Z])`)

// samplePath is events/tenant-<kebab-name>.json.
func samplePath(dt bus.DetailType) string {
	return filepath.Join(eventsDir, strings.ToLower(kebabBreak.ReplaceAllString(string(dt), "$1-$2"))+".json")
}

func readSample(t *testing.T, dt bus.DetailType) []byte {
	t.Helper()
	b, err := os.ReadFile(samplePath(dt))
	if err != nil {
		t.Fatalf("sample of %s: %v", dt, err)
	}
	return b
}

func TestSchemasAndSamplesCoverEveryType(t *testing.T) {
	for _, pattern := range []string{"schemas/*.schema.json", "tenant-*.json"} {
		files, err := filepath.Glob(filepath.Join(eventsDir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != len(allTypes) {
			t.Errorf("%d files match events/%s, want one per detail type (%d)", len(files), pattern, len(allTypes))
		}
	}
	for _, dt := range allTypes {
		if !dt.Known() {
			t.Errorf("%s is not Known", dt)
		}
	}
	if bus.DetailType("TenantExploded").Known() {
		t.Error("an unknown detail type is Known")
	}
}

func TestSamplesValidateAndParse(t *testing.T) {
	for _, dt := range allTypes {
		t.Run(string(dt), func(t *testing.T) {
			body := readSample(t, dt)
			if err := validateJSON(t, dt, body); err != nil {
				t.Errorf("sample does not match its schema: %v", err)
			}
			env, err := bus.Parse(body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if env.DetailType != string(dt) || env.Source != bus.Source || env.Detail.SchemaVersion != bus.SchemaVersion {
				t.Errorf("parsed %s from %s, schema version %d", env.DetailType, env.Source, env.Detail.SchemaVersion)
			}
			if env.ID == "" || env.Account == "" || env.Region == "" || env.Time.IsZero() || env.Resources == nil {
				t.Errorf("envelope metadata missing: %+v", env)
			}
			// The sample says everything the code knows: re-encoding the
			// parsed detail gives the sample's detail back.
			var raw struct{ Detail json.RawMessage }
			if err := json.Unmarshal(body, &raw); err != nil {
				t.Fatal(err)
			}
			again, _ := json.Marshal(env.Detail)
			if !jsonEqual(t, raw.Detail, again) {
				t.Errorf("detail does not round-trip:\n sample %s\n code   %s", raw.Detail, again)
			}
		})
	}
}

// details are valid details of every type, as producers write them.
var details = map[bus.DetailType]bus.Detail{
	bus.TenantOnboardingRequested: {TenantID: "t-01hzx3k9q7m2n4p6r8s0t1v3w5", Tier: "standard", CorrelationID: "c-1",
		TenantName: "Acme Corp", AdminEmail: "admin@acme.example"},
	bus.TenantProvisioned:        {TenantID: "t-01hzx3k9q7m2n4p6r8s0t1v3w5", Tier: "premium", CorrelationID: "c-1", Table: "tessera-tenant-t-01hzx3k9q7m2n4p6r8s0t1v3w5"},
	bus.TenantProvisioningFailed: {TenantID: "t-01hzx3k9q7m2n4p6r8s0t1v3w5", Tier: "basic", CorrelationID: "c-1", Reason: "admin email is a user of another tenant"},
	bus.TenantProvisioningCheck: {TenantID: "t-01hzx3k9q7m2n4p6r8s0t1v3w5", Tier: "premium", CorrelationID: "c-1", Attempt: 2,
		TenantName: "Acme Corp", AdminEmail: "admin@acme.example"},
	bus.TenantSuspended:            {TenantID: "acme", Tier: "standard", CorrelationID: "c-2", Reason: "unpaid invoice"},
	bus.TenantResumed:              {TenantID: "acme", Tier: "standard", CorrelationID: "c-3"},
	bus.TenantTierChanged:          {TenantID: "acme", Tier: "premium", PreviousTier: "standard", CorrelationID: "c-4"},
	bus.TenantOffboardingRequested: {TenantID: "acme", Tier: "premium", CorrelationID: "c-5"},
	bus.TenantOffboarded:           {TenantID: "acme", Tier: "premium", CorrelationID: "c-5"},
	bus.TenantOffboardingFailed:    {TenantID: "acme", Tier: "basic", CorrelationID: "c-6", Reason: "retries_exhausted: gave up after 5 attempts: api gateway unavailable"},
	bus.TenantBackupRequested:      {TenantID: "acme", Tier: "standard", CorrelationID: "c-7", JobID: "j-01kbd0c4r8t2v6x0z4b8d2f6h0"},
	bus.TenantRestoreRequested:     {TenantID: "acme", Tier: "premium", CorrelationID: "c-8", JobID: "j-01kbdb3m7q1s5w9y3a7c1e5g9j", Attempt: 3},
	bus.TenantRestored:             {TenantID: "acme", Tier: "premium", CorrelationID: "c-8", JobID: "j-01kbdb3m7q1s5w9y3a7c1e5g9j"},
	bus.TenantRestoreFailed:        {TenantID: "acme", Tier: "basic", CorrelationID: "c-9", JobID: "j-01kbdd8w2y6a0c4e8g2j6m0p4r", Reason: "verify_failed: checksums differ after 3 rounds"},
	bus.TenantMigrated:             {TenantID: "acme", Tier: "premium", CorrelationID: "c-10", JobID: "j-01kbdf2n8r3t7x1z5b9d3f7h1k", Table: "tessera-dev-tenant-acme"},
	bus.TenantMigrationFailed:      {TenantID: "acme", Tier: "premium", CorrelationID: "c-11", JobID: "j-01kbdf2n8r3t7x1z5b9d3f7h1k", Reason: "verification failed: partition PRODUCT differs"},
}

// delivered renders a PutEvents entry as EventBridge delivers it to a rule
// target.
func delivered(t *testing.T, e types.PutEventsRequestEntry) []byte {
	t.Helper()
	resources := e.Resources
	if resources == nil {
		resources = []string{}
	}
	b, err := json.Marshal(map[string]any{
		"version": "0", "id": bus.NewCorrelationID(), "detail-type": aws.ToString(e.DetailType),
		"source": aws.ToString(e.Source), "account": "123456789012",
		"time": time.Now().UTC().Format(time.RFC3339), "region": "us-east-1",
		"resources": resources, "detail": json.RawMessage(aws.ToString(e.Detail)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEntriesMatchSchemas renders every detail type the way producers
// publish it (outbox.Event, then the PutEvents entry outbox.Publish sends)
// and checks the delivered event against its schema and Parse.
func TestEntriesMatchSchemas(t *testing.T) {
	for _, dt := range allTypes {
		t.Run(string(dt), func(t *testing.T) {
			d := details[dt]
			ev, err := outbox.Event(dt, d)
			if err != nil {
				t.Fatalf("outbox.Event: %v", err)
			}
			e := outbox.Entry("tessera", *ev)
			if aws.ToString(e.EventBusName) != "tessera" || aws.ToString(e.Source) != bus.Source || aws.ToString(e.DetailType) != string(dt) {
				t.Errorf("entry %+v", e)
			}
			body := delivered(t, e)
			if err := validateJSON(t, dt, body); err != nil {
				t.Errorf("emitted event does not match its schema: %v\n%s", err, body)
			}
			env, err := bus.Parse(body)
			if err != nil {
				t.Fatalf("Parse of emitted event: %v", err)
			}
			d.SchemaVersion = bus.SchemaVersion
			if env.Detail != d {
				t.Errorf("round trip: got %+v, want %+v", env.Detail, d)
			}
		})
	}
}

// mutate decodes a sample, edits it as a generic document and re-encodes it.
func mutate(t *testing.T, body []byte, edit func(env, detail map[string]any)) []byte {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	edit(env, env["detail"].(map[string]any))
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInvalidEventsFailSchemaAndParse(t *testing.T) {
	tests := []struct {
		name string
		dt   bus.DetailType
		edit func(env, detail map[string]any)
	}{
		{"missing tenantId", bus.TenantOnboardingRequested, func(_, d map[string]any) { delete(d, "tenantId") }},
		{"invalid tenantId", bus.TenantSuspended, func(_, d map[string]any) { d["tenantId"] = "../other" }},
		{"wrong schemaVersion", bus.TenantOnboardingRequested, func(_, d map[string]any) { d["schemaVersion"] = 2 }},
		{"schemaVersion as string", bus.TenantProvisioned, func(_, d map[string]any) { d["schemaVersion"] = "1" }},
		{"missing schemaVersion", bus.TenantResumed, func(_, d map[string]any) { delete(d, "schemaVersion") }},
		{"unknown detail-type", bus.TenantOnboardingRequested, func(e, _ map[string]any) { e["detail-type"] = "TenantExploded" }},
		{"other source", bus.TenantProvisioned, func(e, _ map[string]any) { e["source"] = "aws.events" }},
		{"extra detail field", bus.TenantOnboardingRequested, func(_, d map[string]any) { d["plan"] = "gold" }},
		{"field name in other case", bus.TenantResumed, func(_, d map[string]any) { d["TenantName"] = "Acme" }},
		{"field of another type", bus.TenantSuspended, func(_, d map[string]any) { d["table"] = "tessera-pooled" }},
		{"zero-valued field of another type", bus.TenantOnboardingRequested, func(_, d map[string]any) { d["attempt"] = 0 }},
		{"missing correlationId", bus.TenantOffboarded, func(_, d map[string]any) { delete(d, "correlationId") }},
		{"unknown tier", bus.TenantTierChanged, func(_, d map[string]any) { d["tier"] = "gold" }},
		{"missing type-specific field", bus.TenantOnboardingRequested, func(_, d map[string]any) { delete(d, "adminEmail") }},
		{"check without attempt", bus.TenantProvisioningCheck, func(_, d map[string]any) { delete(d, "attempt") }},
		{"offboarding failure without reason", bus.TenantOffboardingFailed, func(_, d map[string]any) { delete(d, "reason") }},
		{"re-send with attempt 0", bus.TenantOffboardingRequested, func(_, d map[string]any) { d["attempt"] = 0 }},
		{"re-send with negative attempt", bus.TenantTierChanged, func(_, d map[string]any) { d["attempt"] = -1 }},
		{"detail null", bus.TenantResumed, func(e, _ map[string]any) { e["detail"] = nil }},
		{"backup without jobId", bus.TenantBackupRequested, func(_, d map[string]any) { delete(d, "jobId") }},
		{"restore without jobId", bus.TenantRestoreRequested, func(_, d map[string]any) { delete(d, "jobId") }},
		{"restore failure without reason", bus.TenantRestoreFailed, func(_, d map[string]any) { delete(d, "reason") }},
		{"jobId in upper case", bus.TenantRestored, func(_, d map[string]any) { d["jobId"] = "j-01KBDB3M7Q1S5W9Y3A7C1E5G9J" }},
		{"jobId of a snapshot", bus.TenantRestoreRequested, func(_, d map[string]any) { d["jobId"] = "s-01kbdb3m7q1s5w9y3a7c1e5g9j" }},
		{"jobId too short", bus.TenantBackupRequested, func(_, d map[string]any) { d["jobId"] = "j-01kbd" }},
		{"jobId empty", bus.TenantRestoreFailed, func(_, d map[string]any) { d["jobId"] = "" }},
		{"jobId as number", bus.TenantRestored, func(_, d map[string]any) { d["jobId"] = 7 }},
		{"restored with attempt", bus.TenantRestored, func(_, d map[string]any) { d["attempt"] = 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := mutate(t, readSample(t, tt.dt), tt.edit)
			if err := validateJSON(t, tt.dt, body); err == nil {
				t.Errorf("schema accepted %s", body)
			}
			if _, err := bus.Parse(body); !errors.Is(err, bus.ErrInvalidEvent) {
				t.Errorf("Parse: %v, want ErrInvalidEvent", err)
			}
		})
	}
}

// TestSchemasAgreeWithCode toggles every optional field on every type (adds
// it when the sample lacks it, removes it otherwise) and checks that schema
// and Parse give the same verdict, so that neither allows or requires a
// field the other does not.
func TestSchemasAgreeWithCode(t *testing.T) {
	values := map[string]any{"tenantName": "Acme", "adminEmail": "a@acme.example", "previousTier": "basic",
		"reason": "because", "attempt": 1, "table": "tessera-pooled", "jobId": "j-01kbdf1h5k9n3q7s1v5x9z3b7d"}
	for _, dt := range allTypes {
		for field, v := range values {
			t.Run(string(dt)+"/"+field, func(t *testing.T) {
				body := mutate(t, readSample(t, dt), func(_, d map[string]any) {
					if _, ok := d[field]; ok {
						delete(d, field)
					} else {
						d[field] = v
					}
				})
				schemaErr := validateJSON(t, dt, body)
				_, parseErr := bus.Parse(body)
				if (schemaErr == nil) != (parseErr == nil) {
					t.Errorf("schema says %v, Parse says %v", schemaErr, parseErr)
				}
			})
		}
	}
}

func TestNewCorrelationID(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		id := bus.NewCorrelationID()
		if !uuid.MatchString(id) || seen[id] {
			t.Fatalf("%q is not a fresh v4 UUID", id)
		}
		seen[id] = true
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

// TestSQSSampleCarriesOnboardingSample checks the provisioner's handler
// input, events/sqs-tenant-onboarding-requested.json: every field of it is
// a field of events.SQSEvent and survives re-encoding, its record is
// consistent (md5 of the body), and its body is the onboarding sample.
func TestSQSSampleCarriesOnboardingSample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(eventsDir, "sqs-tenant-onboarding-requested.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev, again events.SQSEvent
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("decode: %v", err)
	}
	out, _ := json.Marshal(ev)
	if err := json.Unmarshal(out, &again); err != nil || !reflect.DeepEqual(ev, again) {
		t.Errorf("sample does not survive re-encoding: %v\n%s", err, out)
	}
	if len(ev.Records) != 1 {
		t.Fatalf("%d records, want 1", len(ev.Records))
	}
	r := ev.Records[0]
	sum := md5.Sum([]byte(r.Body))
	if r.Md5OfBody != hex.EncodeToString(sum[:]) || r.EventSource != "aws:sqs" || r.Attributes["ApproximateReceiveCount"] != "1" {
		t.Errorf("record %+v", r)
	}
	if !jsonEqual(t, []byte(r.Body), readSample(t, bus.TenantOnboardingRequested)) {
		t.Errorf("body is not events/tenant-onboarding-requested.json")
	}
	if err := validateJSON(t, bus.TenantOnboardingRequested, []byte(r.Body)); err != nil {
		t.Errorf("body does not match its schema: %v", err)
	}
	if _, err := bus.Parse([]byte(r.Body)); err != nil {
		t.Errorf("Parse: %v", err)
	}
}

// TestBackupsDueNamesNoTenant: the schedule's tick is a fleet event: it
// parses without tenantId and tier, and is refused with either, or without
// a correlation id; it is not one of the events the bus delivers to the
// provisioner.
func TestBackupsDueNamesNoTenant(t *testing.T) {
	env := func(detail string) []byte {
		return []byte(`{"version":"0","id":"e-1","detail-type":"BackupsDue","source":"tessera.control-plane","account":"000000000000",` +
			`"time":"2026-12-02T05:00:00Z","region":"us-east-1","resources":[],"detail":` + detail + `}`)
	}
	if _, err := bus.Parse(env(`{"schemaVersion":1,"correlationId":"e-1"}`)); err != nil {
		t.Fatalf("the schedule's tick does not parse: %v", err)
	}
	for _, bad := range []string{
		`{"schemaVersion":1,"correlationId":"e-1","tenantId":"t-01hzzzzzzzzzzzzzzzzzzzzzzz"}`,
		`{"schemaVersion":1,"correlationId":"e-1","tier":"basic"}`,
		`{"schemaVersion":1}`,
		`{"schemaVersion":1,"correlationId":"e-1","jobId":"j-01hzzzzzzzzzzzzzzzzzzzzzzz"}`,
	} {
		if _, err := bus.Parse(env(bad)); !errors.Is(err, bus.ErrInvalidEvent) {
			t.Errorf("Parse(%s) = %v, want ErrInvalidEvent", bad, err)
		}
	}
	for _, dt := range bus.ProvisioningEvents {
		if dt == bus.BackupsDue {
			t.Error("BackupsDue is in ProvisioningEvents: anything published on the bus could start the schedule")
		}
	}
}
