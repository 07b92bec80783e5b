package tenantapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/apievent"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/features"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/wire"
)

// newCachingSuite is a suite whose handler caches tenant records for a
// minute, as a deployed process does: once read, a record stays, so a test
// can make the process hold a placement that the catalog has left.
func newCachingSuite(t *testing.T) *suite {
	e := testenv.Setup(t)
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	s := e.Settings
	s.CatalogTTL = time.Minute
	emf := &testenv.LogBuffer{}
	return &suite{e: e, h: wire.NewAPI(e.Config, s, log, emf).Handler, ddb: store.NewClient(e.Config), log: &buf, emf: emf}
}

// dataOf is rec's tenant's data as background work reaches it (the
// migration engine fences through it).
func (s *suite) dataOf(t *testing.T, rec catalog.Record) store.TenantData {
	t.Helper()
	sc, err := catalog.ActAs(rec)
	if err != nil {
		t.Fatal(err)
	}
	creds := access.NewCredentials(sts.NewFromConfig(s.e.Config), s.e.Settings.DataAccessRoleARN)
	return store.New(s.ddb, crypto.NewEnvelope(kms.NewFromConfig(s.e.Config)), store.WithCredentials(creds)).For(sc)
}

// tableItems is the tenant's items of one entity in table, read directly.
func (s *suite) tableItems(t *testing.T, table, tenantID, entity string) []map[string]types.AttributeValue {
	t.Helper()
	out, err := s.ddb.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: tenantID + "#" + entity}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Items
}

// logLines are the JSON log lines whose msg is msg.
func (s *suite) logLines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.log.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if line["msg"] == msg {
			out = append(out, line)
		}
	}
	return out
}

// TestFencedWriteRunsOnceOnTheNewPlacement: a process still caches a
// MIGRATING record with the tenant's old (pooled) placement when the
// migration has fenced it and cut the tenant over to a dedicated table. The
// process's write is refused by the old placement's fence; the handler
// drops the cached record, reads the new placement, and runs the write
// there once: 201, the product is in the dedicated table, nothing in the
// pool, and the retry is logged with the tenant and request ids only.
func TestFencedWriteRunsOnceOnTheNewPlacement(t *testing.T) {
	s := newCachingSuite(t)
	ctx := context.Background()
	acme := fixture.NewTenant(t, s.e, "acme").Record
	id := acme.TenantID
	// Its export request reaches the fence, not the entitlement check.
	fixture.Override(t, s.e, id, features.Exports, true)
	cat := store.NewCatalog(s.ddb, s.e.Settings.CatalogTable)
	migrating, err := cat.Apply(ctx, id, store.Change{From: []catalog.Status{catalog.StatusActive}, To: catalog.StatusMigrating}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := s.do(t, request(t, id, "GET", "/v1/products", nil, "")); r.Status != http.StatusOK { // the process caches the record
		t.Fatalf("list = %+v", r)
	}

	// The migration: a dedicated table, the old placement fenced, the
	// catalog flipped.
	table := access.DedicatedTable(s.e.Settings.Stage, id)
	if _, err := s.ddb.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}},
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = s.ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	if err := s.dataOf(t, migrating).SetFence(ctx, store.FenceMigrating, "job-1"); err != nil {
		t.Fatal(err)
	}
	placement := catalog.Placement{Cell: acme.Placement.Cell, Table: table, Dedicated: true, KeyARN: acme.Placement.KeyARN}
	if _, err := cat.Apply(ctx, id, store.Change{From: []catalog.Status{catalog.StatusMigrating}, To: catalog.StatusActive,
		Tier: catalog.TierPremium, Placement: &placement}, nil, nil); err != nil {
		t.Fatal(err)
	}

	ev := request(t, id, "POST", "/v1/products", nil, `{"name":"Secret Anvil","sku":"ANV-FENCE","price":{"amount":1999,"currency":"EUR"}}`)
	r := s.do(t, ev)
	if r.Status != http.StatusCreated || r.Body["sku"] != "ANV-FENCE" {
		t.Fatalf("create behind a stale placement = %+v, want 201", r)
	}
	if got := s.tableItems(t, table, id, "PRODUCT"); len(got) != 1 || got[0]["sk"].(*types.AttributeValueMemberS).Value != r.Body["id"] {
		t.Fatalf("dedicated table holds %v, want the new product", got)
	}
	if n := s.items(t, id); n != 0 {
		t.Fatalf("the fenced pool got %d items", n)
	}
	lines := s.logLines(t, "write refused by a stale placement's fence; running it on the new placement")
	if len(lines) != 1 || lines[0]["tenantId"] != id || lines[0]["requestId"] != ev.RequestContext.RequestID || lines[0]["fenceJob"] != "job-1" {
		t.Fatalf("retry log lines = %v", lines)
	}
	if logs := s.log.String(); strings.Contains(logs, "Secret Anvil") || strings.Contains(logs, "ANV-FENCE") {
		t.Fatalf("logs hold the request's data: %s", logs)
	}

	// The process now holds the new record: the next write goes straight
	// to the dedicated table.
	if r := s.do(t, request(t, id, "POST", "/v1/products", nil, `{"name":"Bolt","sku":"BLT-1","price":{"amount":5,"currency":"EUR"}}`)); r.Status != http.StatusCreated {
		t.Fatalf("second create = %+v", r)
	}
	if n := len(s.tableItems(t, table, id, "PRODUCT")); n != 2 {
		t.Fatalf("dedicated table holds %d products, want 2", n)
	}
	if n := len(s.logLines(t, "write refused by a stale placement's fence; running it on the new placement")); n != 1 {
		t.Fatalf("%d retries logged, want still 1", n)
	}
}

// TestFencedWriteOnAnUnchangedPlacementIs503: while a migration's fence is
// up and the catalog still names the fenced placement (the cutover
// window), every write answers 503 tenant_migrating with Retry-After 2 and
// writes nothing, reads are answered, a restore's fence answers
// tenant_restoring, and once the fence is cleared the writes work again.
func TestFencedWriteOnAnUnchangedPlacementIs503(t *testing.T) {
	s := newCachingSuite(t)
	ctx := context.Background()
	acme := fixture.NewTenant(t, s.e, "acme").Record
	id := acme.TenantID
	// Its export request reaches the fence, not the entitlement check.
	fixture.Override(t, s.e, id, features.Exports, true)
	cat := store.NewCatalog(s.ddb, s.e.Settings.CatalogTable)
	migrating, err := cat.Apply(ctx, id, store.Change{From: []catalog.Status{catalog.StatusActive}, To: catalog.StatusMigrating}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// MIGRATING without a fence: writes work.
	p := s.do(t, request(t, id, "POST", "/v1/products", nil, `{"name":"Anvil","sku":"ANV-1","price":{"amount":1999,"currency":"EUR"}}`))
	if p.Status != http.StatusCreated {
		t.Fatalf("create while migrating, unfenced = %+v", p)
	}
	pid := p.Body["id"].(string)
	o := s.do(t, request(t, id, "POST", "/v1/orders", nil, `{"productId":"`+pid+`","quantity":1,"customer":{"name":"Ann","email":"ann@example.com"}}`))
	if o.Status != http.StatusCreated {
		t.Fatalf("create order while migrating, unfenced = %+v", o)
	}
	product, order := map[string]string{"id": pid}, map[string]string{"id": o.Body["id"].(string)}
	data := s.dataOf(t, migrating)
	if err := data.SetFence(ctx, store.FenceMigrating, "job-1"); err != nil {
		t.Fatal(err)
	}
	before := s.tenantItems(t, id)

	writes := dataWrites(t, id, pid, product, order)
	for _, tc := range writes {
		t.Run("migrating/"+tc.name, func(t *testing.T) {
			resp, err := s.h.Handle(ctx, apievent.Fresh(t, tc.ev))
			if err != nil {
				t.Fatal(err)
			}
			var body edge.ErrorBody
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Fatalf("body %q: %v", resp.Body, err)
			}
			if resp.StatusCode != http.StatusServiceUnavailable || body.Error.Code != edge.CodeTenantMigrating || resp.Headers["Retry-After"] != "2" {
				t.Fatalf("got %d %q, Retry-After %q; want 503 %s with Retry-After 2", resp.StatusCode, body.Error.Code, resp.Headers["Retry-After"], edge.CodeTenantMigrating)
			}
			if after := s.tenantItems(t, id); !reflect.DeepEqual(after, before) {
				t.Fatalf("a fenced write changed the tenant's items:\n before %v\n after  %v", before, after)
			}
		})
	}
	if lines := s.logLines(t, "write refused by the placement's fence"); len(lines) != len(writes) || lines[0]["tenantId"] != id || lines[0]["requestId"] == nil || lines[0]["fenceReason"] != store.FenceMigrating {
		t.Fatalf("fenced writes logged as %v", lines)
	}
	if r := s.do(t, request(t, id, "GET", "/v1/products/{id}", product, "")); r.Status != http.StatusOK || r.Body["id"] != pid {
		t.Fatalf("read while fenced = %+v", r)
	}

	// A restore's fence.
	if err := data.SetFence(ctx, store.FenceRestoring, "job-2"); err != nil {
		t.Fatal(err)
	}
	resp, err := s.h.Handle(ctx, apievent.Fresh(t, writes[0].ev))
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(resp.Body, edge.CodeTenantRestoring) || resp.Headers["Retry-After"] != "5" {
		t.Fatalf("write under a restore's fence = %d %s (Retry-After %q), %v", resp.StatusCode, resp.Body, resp.Headers["Retry-After"], err)
	}

	// The fence comes down (a migration that rolled back): writes work.
	if err := data.ClearFence(ctx); err != nil {
		t.Fatal(err)
	}
	if r := s.do(t, writes[0].ev); r.Status != http.StatusCreated {
		t.Fatalf("write after the fence = %+v, want 201", r)
	}
}
