package exporter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tessera-saas/tessera/internal/app/exporter"
	"github.com/tessera-saas/tessera/internal/local/pump"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/entityid"
	"github.com/tessera-saas/tessera/internal/platform/export"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/wire"
)

// asJSON re-decodes v as generic JSON, to compare with API responses.
func asJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// capture records the batches a handler is given, so a test can deliver
// one again.
type capture struct {
	mu      sync.Mutex
	batches []events.SQSEvent
	next    pump.Handler
}

func (c *capture) handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	c.mu.Lock()
	c.batches = append(c.batches, ev)
	c.mu.Unlock()
	return c.next(ctx, ev)
}

// TestExportHoldsExactlyTheTenantsData is the acceptance test: acme's
// export, queued through the API and run by the worker from its tier's
// queue, holds exactly acme's products and orders as the API returns them,
// nothing of globex's, under acme's prefix, encrypted with acme's key;
// globex cannot read the record; a redelivered message changes nothing.
func TestExportHoldsExactlyTheTenantsData(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "acme").Record
	globex := fixture.NewTenant(t, h.e, "globex").Record

	want := map[string]map[string]any{}
	var acmeProduct string
	for i, name := range []string{"Anvil", "Rocket Skates", "Giant Magnet"} {
		p := h.mustCreate(t, acme.TenantID, "/v1/products", fmt.Sprintf(`{"name":%q,"sku":"ACME-%d","price":{"amount":%d,"currency":"EUR"},"description":"d%d"}`, name, i, 1000+i, i))
		acmeProduct = p["id"].(string)
		want[acmeProduct] = p
	}
	for _, c := range []struct{ name, email string }{{"Wile E. Coyote", "wile@acme.example"}, {"Road Runner", "beep@acme.example"}} {
		o := h.mustCreate(t, acme.TenantID, "/v1/orders", fmt.Sprintf(`{"productId":%q,"quantity":2,"customer":{"name":%q,"email":%q}}`, acmeProduct, c.name, c.email))
		want[o["id"].(string)] = o
	}
	gp := h.mustCreate(t, globex.TenantID, "/v1/products", `{"name":"Globex Doomsday Device","sku":"GLX-1","price":{"amount":1,"currency":"USD"}}`)
	gpID := gp["id"].(string)
	h.mustCreate(t, globex.TenantID, "/v1/orders", `{"productId":"`+gpID+`","quantity":1,"customer":{"name":"Hank Scorpio","email":"hank@globex.example"}}`)

	started := h.call(t, acme.TenantID, "POST", "/v1/exports", nil, "")
	id, _ := started.Body["id"].(string)
	if started.Status != http.StatusAccepted || started.Body["status"] != string(export.StatusQueued) || !entityid.Valid(id) {
		t.Fatalf("start = %+v", started)
	}
	if _, err := time.Parse(time.RFC3339Nano, started.Body["createdAt"].(string)); err != nil {
		t.Fatalf("createdAt: %v", err)
	}
	if r := h.getExport(t, globex.TenantID, id); r.Status != http.StatusNotFound || r.Code != edge.CodeNotFound {
		t.Fatalf("globex reads acme's export: %+v", r)
	}

	// The worker takes the message from the basic tier's queue, as the
	// event source would; pages of 2 items make it follow the cursors.
	w := h.worker(exporter.WithPageSize(2))
	c := &capture{next: w.Handle}
	n, err := pump.New(h.q, h.s.ExportQueueURLs[catalog.TierBasic], c.handle, pump.WithWaitTime(0)).Drain(context.Background(), 5)
	if err != nil || n != 1 {
		t.Fatalf("drain: %d messages, %v", n, err)
	}
	if got := h.runs.count(); got != 1 {
		t.Fatalf("%d runs, want 1", got)
	}

	done := h.getExport(t, acme.TenantID, id)
	key := export.ObjectKey(acme.TenantID, id)
	if done.Status != http.StatusOK || done.Body["status"] != string(export.StatusDone) || done.Body["itemCount"] != float64(5) ||
		done.Body["objectKey"] != key || done.Body["finishedAt"] == nil {
		t.Fatalf("after the run: %+v", done)
	}
	if r := h.getExport(t, globex.TenantID, id); r.Status != http.StatusNotFound {
		t.Fatalf("globex reads acme's finished export: %+v", r)
	}

	obj, body := h.object(t, key)
	if aws.ToString(obj.ContentType) != export.ContentType || obj.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms ||
		aws.ToString(obj.SSEKMSKeyId) != acme.Placement.KeyARN {
		t.Fatalf("object metadata: type %q, sse %q, key %q (want acme's key %s)", aws.ToString(obj.ContentType), obj.ServerSideEncryption, aws.ToString(obj.SSEKMSKeyId), acme.Placement.KeyARN)
	}
	ls := lines(t, body)
	if len(ls) != 5 {
		t.Fatalf("%d lines, want 5:\n%s", len(ls), body)
	}
	for i, l := range ls {
		var got map[string]any
		switch {
		case i < 3 && l.Type == export.LineProduct && l.Product != nil && l.Order == nil:
			got = asJSON(t, l.Product)
		case i >= 3 && l.Type == export.LineOrder && l.Order != nil && l.Product == nil:
			got = asJSON(t, l.Order)
		default:
			t.Fatalf("line %d is %+v; want 3 products, then 2 orders", i, l)
		}
		if !reflect.DeepEqual(got, want[got["id"].(string)]) {
			t.Errorf("line %d = %v\nwant (as the API returned it) %v", i, got, want[got["id"].(string)])
		}
		delete(want, got["id"].(string))
	}
	if len(want) != 0 {
		t.Fatalf("not exported: %v", want)
	}
	for _, foreign := range []string{globex.TenantID, gpID, "Globex", "Hank Scorpio", "hank@globex.example"} {
		if bytes.Contains(body, []byte(foreign)) {
			t.Fatalf("acme's export contains globex's %q", foreign)
		}
	}
	if keys := h.keysUnder(t, globex.TenantID+"/"); len(keys) != 0 {
		t.Fatalf("objects under globex's prefix: %v", keys)
	}

	// A redelivery of the same message (SQS delivers at least once) finds
	// the export DONE and leaves it, and its object, alone.
	h.mustCreate(t, acme.TenantID, "/v1/products", `{"name":"Late Arrival","sku":"ACME-LATE","price":{"amount":1,"currency":"EUR"}}`)
	again := c.batches[0]
	again.Records[0].Attributes["ApproximateReceiveCount"] = "2"
	resp, err := w.Handle(context.Background(), again)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("redelivery: %+v, %v", resp, err)
	}
	if got := h.runs.count(); got != 1 {
		t.Fatalf("redelivery ran the export again (%d runs)", got)
	}
	if after := h.getExport(t, acme.TenantID, id); !reflect.DeepEqual(after.Body, done.Body) {
		t.Fatalf("redelivery changed the record: %v -> %v", done.Body, after.Body)
	}
	if _, body2 := h.object(t, key); !bytes.Equal(body, body2) {
		t.Fatal("redelivery rewrote the object")
	}

	logs := h.log.String()
	for _, secret := range []string{"wile@acme.example", "Wile E. Coyote", "beep@acme.example"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("worker logs contain %q", secret)
		}
	}
	if !strings.Contains(logs, `"tenantId":"`+acme.TenantID+`"`) || !strings.Contains(logs, "redelivered message ignored") {
		t.Fatalf("worker logs lack the tenant or the redelivery: %s", logs)
	}
}

// TestPremiumExportReadsItsDedicatedTable: a tenant placed in a table of
// its own is exported from that table.
func TestPremiumExportReadsItsDedicatedTable(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	initech := fixture.NewTenant(t, h.e, "initech").Record
	table := access.DedicatedTable(h.e.Settings.Stage, initech.TenantID)
	ddb := dynamodb.NewFromConfig(h.e.Config)
	if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}, {AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange}},
	}); err != nil {
		t.Fatal(err)
	}
	cat := store.NewCatalog(store.NewClient(h.e.Config), h.s.CatalogTable)
	placement := catalog.Placement{Table: table, Dedicated: true, KeyARN: initech.Placement.KeyARN}
	if _, err := cat.Apply(ctx, initech.TenantID, store.Change{Tier: catalog.TierPremium, Placement: &placement}, nil, nil); err != nil {
		t.Fatal(err)
	}
	p := h.mustCreate(t, initech.TenantID, "/v1/products", `{"name":"TPS Report Binder","sku":"TPS-1","price":{"amount":250,"currency":"USD"}}`)
	h.mustCreate(t, initech.TenantID, "/v1/orders", `{"productId":"`+p["id"].(string)+`","quantity":3,"customer":{"name":"Peter Gibbons","email":"peter@initech.example"}}`)
	pooled, err := ddb.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(h.s.PooledTable), KeyConditionExpression: aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": &ddbtypes.AttributeValueMemberS{Value: initech.TenantID + "#PRODUCT"}}})
	if err != nil || len(pooled.Items) != 0 {
		t.Fatalf("premium product in the pooled table: %v, %v", pooled.Items, err)
	}

	id := h.mustCreate(t, initech.TenantID, "/v1/exports", "{}")["id"].(string)
	if n, err := pump.New(h.q, h.s.ExportQueueURLs[catalog.TierPremium], h.worker().Handle, pump.WithWaitTime(0)).Drain(ctx, 5); err != nil || n != 1 {
		t.Fatalf("premium queue: %d messages, %v", n, err)
	}
	done := h.getExport(t, initech.TenantID, id)
	if done.Body["status"] != string(export.StatusDone) || done.Body["itemCount"] != float64(2) {
		t.Fatalf("premium export = %+v; logs:\n%s", done, h.log.String())
	}
	_, body := h.object(t, export.ObjectKey(initech.TenantID, id))
	ls := lines(t, body)
	if len(ls) != 2 || ls[0].Product == nil || ls[0].Product.ID != p["id"] || ls[1].Order == nil || ls[1].Order.Customer.Email != "peter@initech.example" {
		t.Fatalf("premium export lines: %s", body)
	}
}

// sampleEvent is events/sqs-export-requested.json with msg as its body and
// attributes, delivered for the attempt-th time.
func sampleEvent(t *testing.T, msg *export.Message, attempt int) events.SQSEvent {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "events", "sqs-export-requested.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	r := &ev.Records[0]
	if msg != nil {
		r.Body = msg.Body()
		for k, v := range msg.Attributes() {
			r.MessageAttributes[k] = events.SQSMessageAttribute{DataType: "String", StringValue: aws.String(v)}
		}
	}
	r.Attributes["ApproximateReceiveCount"] = fmt.Sprint(attempt)
	return ev
}

// TestMessagesThatMustNotRunAreDropped: a message that can never succeed
// is dropped with a log line (no batch item failure, so it does not come
// back), and nothing is exported.
func TestMessagesThatMustNotRunAreDropped(t *testing.T) {
	h := newHarness(t)
	w := h.worker()
	acme := fixture.NewTenant(t, h.e, "acme").Record
	gone := fixture.NewTenant(t, h.e, "gone").Record
	goneExport := h.mustCreate(t, gone.TenantID, "/v1/exports", "")["id"].(string)
	cat := store.NewCatalog(store.NewClient(h.e.Config), h.s.CatalogTable)
	for _, st := range []catalog.Status{catalog.StatusOffboarding, catalog.StatusOffboarded} {
		if _, err := cat.Apply(context.Background(), gone.TenantID, store.Change{To: st}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	msg := func(tenantID, exportID string) *export.Message {
		return &export.Message{SchemaVersion: export.SchemaVersion, TenantID: tenantID, ExportID: exportID, Tier: catalog.TierBasic}
	}
	tests := []struct {
		name   string
		ev     events.SQSEvent
		tenant string
		log    string
	}{
		{"sample: unknown tenant", sampleEvent(t, nil, 1), "t-01jx4k7m9q2r5s8v1w3y6z0a2b", "unknown tenant"},
		{"unknown export of a real tenant", sampleEvent(t, msg(acme.TenantID, entityid.New()), 1), acme.TenantID, "no such export"},
		{"offboarded tenant", sampleEvent(t, msg(gone.TenantID, goneExport), 1), gone.TenantID, "tenant is not active"},
		{"malformed body", func() events.SQSEvent {
			ev := sampleEvent(t, nil, 1)
			ev.Records[0].Body = `{"tenantId":"` + acme.TenantID + `"`
			return ev
		}(), acme.TenantID, "malformed"},
		{"attribute disagrees with body", func() events.SQSEvent {
			ev := sampleEvent(t, msg(acme.TenantID, entityid.New()), 1)
			ev.Records[0].MessageAttributes[export.AttrTenantID] = events.SQSMessageAttribute{DataType: "String", StringValue: aws.String(gone.TenantID)}
			return ev
		}(), acme.TenantID, "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logged := len(h.log.String())
			resp, err := w.Handle(context.Background(), tc.ev)
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("resp = %+v, %v; want the message dropped", resp, err)
			}
			if n := h.runs.count(); n != 0 {
				t.Fatalf("%d runs", n)
			}
			if keys := h.keysUnder(t, tc.tenant+"/"); len(keys) != 0 {
				t.Fatalf("objects written: %v", keys)
			}
			if logs := h.log.String()[logged:]; !strings.Contains(logs, tc.log) || !strings.Contains(logs, `"level":"ERROR"`) && !strings.Contains(logs, `"level":"WARN"`) {
				t.Fatalf("no warning or error with %q: %s", tc.log, logs)
			}
		})
	}
}

// TestSuspendedTenantsExportWaitsThenFails: while the tenant is suspended
// its export does not run and its message comes back (batch item failure);
// when the last attempt finds it still suspended, the export is marked
// FAILED and the message dropped. Nothing is exported.
func TestSuspendedTenantsExportWaitsThenFails(t *testing.T) {
	h := newHarness(t)
	w := h.worker()
	ctx := context.Background()
	hooli := fixture.NewTenant(t, h.e, "hooli").Record
	id := h.mustCreate(t, hooli.TenantID, "/v1/exports", "")["id"].(string)
	cat := store.NewCatalog(store.NewClient(h.e.Config), h.s.CatalogTable)
	if _, err := cat.Apply(ctx, hooli.TenantID, store.Change{From: []catalog.Status{catalog.StatusActive}, To: catalog.StatusSuspended}, nil, nil); err != nil {
		t.Fatal(err)
	}
	msg := &export.Message{SchemaVersion: export.SchemaVersion, TenantID: hooli.TenantID, ExportID: id, Tier: catalog.TierBasic}
	for attempt := 1; attempt < export.MaxAttempts; attempt++ {
		ev := sampleEvent(t, msg, attempt)
		resp, err := w.Handle(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != ev.Records[0].MessageId {
			t.Fatalf("attempt %d: %+v, %v; want the message back", attempt, resp, err)
		}
	}
	if r := h.record(t, hooli, id); r.Status != export.StatusQueued {
		t.Fatalf("export of a suspended tenant = %+v, want still QUEUED", r)
	}
	resp, err := w.Handle(ctx, sampleEvent(t, msg, export.MaxAttempts))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("last attempt: %+v, %v; want the message dropped", resp, err)
	}
	if r := h.record(t, hooli, id); r.Status != export.StatusFailed || r.Reason != export.ReasonTenantNotActive || r.FinishedAt == nil {
		t.Fatalf("after the last attempt = %+v", r)
	}
	if n := h.runs.count(); n != 0 {
		t.Fatalf("%d runs for a suspended tenant", n)
	}
	if keys := h.keysUnder(t, hooli.TenantID+"/"); len(keys) != 0 {
		t.Fatalf("objects written: %v", keys)
	}
}

// TestRestoringTenantsExportWaits: while an in-place restore of the tenant
// runs, its export does not run and writes nothing, on every attempt, the
// last one too: its message comes back (batch item failure) and the export
// stays QUEUED. Once the tenant is active again, the next delivery runs it.
func TestRestoringTenantsExportWaits(t *testing.T) {
	h := newHarness(t)
	w := h.worker()
	ctx := context.Background()
	hooli := fixture.NewTenant(t, h.e, "hooli").Record
	id := h.mustCreate(t, hooli.TenantID, "/v1/exports", "")["id"].(string)
	cat := store.NewCatalog(store.NewClient(h.e.Config), h.s.CatalogTable)
	if _, err := cat.Apply(ctx, hooli.TenantID, store.Change{From: []catalog.Status{catalog.StatusActive}, To: catalog.StatusRestoring}, nil, nil); err != nil {
		t.Fatal(err)
	}
	before := h.record(t, hooli, id)
	msg := &export.Message{SchemaVersion: export.SchemaVersion, TenantID: hooli.TenantID, ExportID: id, Tier: catalog.TierBasic}
	for attempt := 1; attempt <= export.MaxAttempts; attempt++ {
		ev := sampleEvent(t, msg, attempt)
		resp, err := w.Handle(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != ev.Records[0].MessageId {
			t.Fatalf("attempt %d: %+v, %v; want the message back", attempt, resp, err)
		}
	}
	if r := h.record(t, hooli, id); !reflect.DeepEqual(r, before) || r.Status != export.StatusQueued {
		t.Fatalf("export of a restoring tenant = %+v, want it untouched (%+v)", r, before)
	}
	if n := h.runs.count(); n != 0 {
		t.Fatalf("%d runs for a restoring tenant", n)
	}
	if keys := h.keysUnder(t, hooli.TenantID+"/"); len(keys) != 0 {
		t.Fatalf("objects written: %v", keys)
	}
	if _, err := cat.Apply(ctx, hooli.TenantID, store.Change{From: []catalog.Status{catalog.StatusRestoring}, To: catalog.StatusActive}, nil, nil); err != nil {
		t.Fatal(err)
	}
	resp, err := w.Handle(ctx, sampleEvent(t, msg, 1))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("after the restore: %+v, %v", resp, err)
	}
	if r := h.record(t, hooli, id); r.Status != export.StatusDone {
		t.Fatalf("export after the restore = %+v, want DONE", r)
	}
}

// TestEnqueueFailureLeavesNoRecord: when the message cannot be queued, the
// API answers 500 and the export record it wrote first is gone again.
func TestEnqueueFailureLeavesNoRecord(t *testing.T) {
	h := newHarness(t)
	basic := h.s.ExportQueueURLs[catalog.TierBasic]
	tests := []struct {
		name string
		urls map[catalog.Tier]string
		// log is the cause the API must log: the first case wrote the
		// record, failed to queue, and removed it.
		log string
	}{
		{"queue does not exist", map[catalog.Tier]string{catalog.TierBasic: basic[:strings.LastIndex(basic, "/")+1] + "no-such-queue"}, "queue export"},
		{"no queue for the tier", map[catalog.Tier]string{catalog.TierPremium: h.s.ExportQueueURLs[catalog.TierPremium]}, "no export queue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acme := fixture.NewTenant(t, h.e, "acme").Record
			s := h.s
			s.ExportQueueURLs = tc.urls
			h.api = wire.NewAPI(h.e.Config, s, h.apiLog(), nil).Handler
			r := h.call(t, acme.TenantID, "POST", "/v1/exports", nil, "")
			if r.Status != http.StatusInternalServerError || r.Code != edge.CodeInternal {
				t.Fatalf("POST = %+v, want 500 internal", r)
			}
			out, err := dynamodb.NewFromConfig(h.e.Config).Query(context.Background(), &dynamodb.QueryInput{TableName: aws.String(h.s.PooledTable),
				KeyConditionExpression:    aws.String("pk = :pk"),
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": &ddbtypes.AttributeValueMemberS{Value: acme.TenantID + "#EXPORT"}},
				ConsistentRead:            aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Items) != 0 {
				t.Fatalf("a failed request left export records: %v", out.Items)
			}
			if logs := h.apiLogs.String(); !strings.Contains(logs, `"tenantId":"`+acme.TenantID+`"`) || !strings.Contains(logs, tc.log) {
				t.Fatalf("the cause is not logged with the tenant: %s", logs)
			}
		})
	}
}
