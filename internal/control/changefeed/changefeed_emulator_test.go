package changefeed_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tessera-saas/tessera/internal/control/changefeed"
	"github.com/tessera-saas/tessera/internal/local/streampump"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/product"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
	"github.com/tessera-saas/tessera/internal/wire"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var bg = context.Background()

type harness struct {
	e       *testenv.Env
	feed    *changefeed.Handler
	metrics *bytes.Buffer
	data    *store.Store
	objects *s3.Client
	pump    *streampump.Pump

	mu      sync.Mutex
	batches []events.DynamoDBEvent
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	e := testenv.Setup(t)
	h := &harness{e: e, metrics: &bytes.Buffer{}, objects: awsconfig.NewS3(e.Config)}
	h.feed = wire.NewChangeFeed(e.Config, e.Settings, slog.New(slog.NewJSONHandler(io.Discard, nil)), h.metrics)
	creds := access.NewCredentials(sts.NewFromConfig(e.Config), e.Settings.DataAccessRoleARN)
	h.data = store.New(store.NewClient(e.Config), crypto.NewEnvelope(kms.NewFromConfig(e.Config)), store.WithCredentials(creds))
	h.pump = streampump.New(dynamodbstreams.NewFromConfig(e.Config),
		streampump.TableMatcher(e.Settings.PooledTable, access.DedicatedTablePrefix(e.Settings.Stage)), e.Config.Region,
		func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			h.mu.Lock()
			h.batches = append(h.batches, ev)
			h.mu.Unlock()
			return h.feed.Handle(ctx, ev)
		})
	return h
}

func (h *harness) as(rec catalog.Record) store.TenantData {
	sc, err := catalog.ScopeOf(tenant.Tenant{ID: rec.TenantID, UserID: "u", Role: tenant.RoleAdmin}, rec)
	if err != nil {
		panic(err)
	}
	return h.data.For(sc)
}

func (h *harness) drain(t *testing.T) {
	t.Helper()
	if _, err := h.pump.Drain(bg, 200); err != nil {
		t.Fatalf("drain the streams: %v", err)
	}
}

// logged reads every change under tenantID's prefix, with the bucket's
// object metadata, as an operator would (the function's own credentials).
func (h *harness) logged(t *testing.T, tenantID string) (changes []changefeed.Change, keys []string, kmsKeys map[string]string) {
	t.Helper()
	kmsKeys = map[string]string{}
	p := s3.NewListObjectsV2Paginator(h.objects, &s3.ListObjectsV2Input{Bucket: aws.String(h.e.Settings.BackupBucket), Prefix: aws.String(changefeed.Prefix(tenantID))})
	for p.HasMorePages() {
		page, err := p.NextPage(bg)
		if err != nil {
			t.Fatalf("list %s: %v", tenantID, err)
		}
		for _, o := range page.Contents {
			out, err := h.objects.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String(h.e.Settings.BackupBucket), Key: o.Key})
			if err != nil {
				t.Fatalf("get %s: %v", aws.ToString(o.Key), err)
			}
			cs, err := changefeed.Decode(out.Body)
			out.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			changes = append(changes, cs...)
			keys = append(keys, aws.ToString(o.Key))
			kmsKeys[aws.ToString(o.Key)] = aws.ToString(out.SSEKMSKeyId)
		}
	}
	return changes, keys, kmsKeys
}

func pkOf(c changefeed.Change) string { return c.Keys["pk"].String() }

func TestFeedLogsEachTenantsChangesUnderItsOwnPrefixAndKey(t *testing.T) {
	h := newHarness(t)
	a, b := fixture.NewTenant(t, h.e, "FeedA"), fixture.NewTenant(t, h.e, "FeedB")
	pa, err := h.as(a.Record).CreateProduct(bg, product.Input{Name: "Anvil", SKU: "A-1", Price: &product.Price{Amount: 100, Currency: "EUR"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.as(a.Record).UpdateProduct(bg, pa.ID, pa.Version, product.Input{Name: "Anvil 2", SKU: "A-1", Price: &product.Price{Amount: 150, Currency: "EUR"}}); err != nil {
		t.Fatal(err)
	}
	pb, err := h.as(b.Record).CreateProduct(bg, product.Input{Name: "Bucket", SKU: "B-1", Price: &product.Price{Amount: 200, Currency: "EUR"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.as(b.Record).DeleteProduct(bg, pb.ID); err != nil {
		t.Fatal(err)
	}
	h.drain(t)

	for _, tc := range []struct {
		rec           catalog.Record
		product       string
		wantEvents    []string // of the product item, in order
		foreignTenant string
	}{
		{a.Record, pa.ID, []string{"INSERT", "MODIFY"}, b.Record.TenantID},
		{b.Record, pb.ID, []string{"INSERT", "REMOVE"}, a.Record.TenantID},
	} {
		changes, keys, kmsKeys := h.logged(t, tc.rec.TenantID)
		if len(keys) == 0 {
			t.Fatalf("tenant %s: nothing logged", tc.rec.TenantID)
		}
		for k, key := range kmsKeys {
			if key != tc.rec.Placement.KeyARN && !strings.HasSuffix(tc.rec.Placement.KeyARN, key) {
				t.Errorf("object %s is encrypted under %q, not the tenant's key %q", k, key, tc.rec.Placement.KeyARN)
			}
		}
		var got []string
		for _, c := range changefeed.Dedupe(changes) {
			if !strings.HasPrefix(pkOf(c), tc.rec.TenantID+"#") {
				t.Fatalf("tenant %s's log holds an item of another partition: %s", tc.rec.TenantID, pkOf(c))
			}
			if strings.Contains(pkOf(c), tc.foreignTenant) {
				t.Fatalf("tenant %s's log holds tenant %s's data", tc.rec.TenantID, tc.foreignTenant)
			}
			if c.Keys["sk"].String() == tc.product {
				got = append(got, c.Event)
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.wantEvents, ",") {
			t.Errorf("tenant %s: product changes %v, want %v", tc.rec.TenantID, got, tc.wantEvents)
		}
	}
	if !strings.Contains(h.metrics.String(), `"ChangeFeedLag":[`) {
		t.Errorf("no lag metric in the EMF lines: %q", h.metrics.String())
	}
}

func TestRedeliveredBatchWritesNothingTwice(t *testing.T) {
	h := newHarness(t)
	a := fixture.NewTenant(t, h.e, "FeedRedeliver")
	for _, sku := range []string{"R-1", "R-2", "R-3"} {
		if _, err := h.as(a.Record).CreateProduct(bg, product.Input{Name: "P", SKU: sku, Price: &product.Price{Amount: 1, Currency: "EUR"}}); err != nil {
			t.Fatal(err)
		}
	}
	h.drain(t)
	_, before, _ := h.logged(t, a.Record.TenantID)
	if len(before) == 0 {
		t.Fatal("nothing logged")
	}
	h.mu.Lock()
	batches := append([]events.DynamoDBEvent(nil), h.batches...)
	h.mu.Unlock()
	time.Sleep(1100 * time.Millisecond) // an overwrite would show a later LastModified
	for _, ev := range batches {
		resp, err := h.feed.Handle(bg, ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("redelivery: %+v, %v", resp, err)
		}
	}
	changes, after, _ := h.logged(t, a.Record.TenantID)
	if strings.Join(before, ",") != strings.Join(after, ",") {
		t.Fatalf("redelivery changed the log's objects:\nbefore %v\nafter  %v", before, after)
	}
	if n, d := len(changes), len(changefeed.Dedupe(changes)); n != d {
		t.Fatalf("log holds %d changes, %d distinct: a change was written twice", n, d)
	}
}

func TestFailureOfOneTenantReportsItsEarliestRecord(t *testing.T) {
	h := newHarness(t)
	a := fixture.NewTenant(t, h.e, "FeedOK")
	// A tenant whose key is not there yet: its changes cannot be logged.
	broken := catalog.Record{TenantID: tenant.NewID(), Name: "Broken", Tier: catalog.TierBasic, Status: catalog.StatusActive,
		Placement: catalog.Placement{Table: h.e.Settings.PooledTable}, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := store.NewCatalog(store.NewClient(h.e.Config), h.e.Settings.CatalogTable).CreateTenant(bg, broken); err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	arn := "arn:aws:dynamodb:" + h.e.Config.Region + ":123456789012:table/" + h.e.Settings.PooledTable + "/stream/test"
	item := func(tenantID, seq string) events.DynamoDBEventRecord {
		return events.DynamoDBEventRecord{EventName: "INSERT", EventSourceArn: arn, Change: events.DynamoDBStreamRecord{
			SequenceNumber: seq, ApproximateCreationDateTime: events.SecondsEpochTime{Time: at},
			Keys: map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute(tenantID + "#PRODUCT"), "sk": events.NewStringAttribute("s" + seq)}}}
	}
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		item(a.Record.TenantID, "900000000001"), item(broken.TenantID, "900000000002"), item(a.Record.TenantID, "900000000003"),
	}}
	resp, err := h.feed.Handle(bg, ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "900000000002" {
		t.Fatalf("failures %+v, want the broken tenant's record 900000000002", resp.BatchItemFailures)
	}
	changes, _, _ := h.logged(t, a.Record.TenantID)
	var seqs []string
	for _, c := range changes {
		if strings.HasPrefix(c.Seq, "9000000000") {
			seqs = append(seqs, c.Seq)
		}
	}
	if strings.Join(seqs, ",") != "900000000001,900000000003" {
		t.Fatalf("the healthy tenant's records logged: %v", seqs)
	}
	if _, keys, _ := h.logged(t, broken.TenantID); len(keys) != 0 {
		t.Fatalf("the broken tenant got objects: %v", keys)
	}
}

// TestCancelledTransactionReachesNoChangeLog: a create that the SKU
// uniqueness check cancels writes nothing, so it must log nothing either
// (the emulators' rollback takes back the stream records too).
func TestCancelledTransactionReachesNoChangeLog(t *testing.T) {
	h := newHarness(t)
	a := fixture.NewTenant(t, h.e, "FeedCancelled")
	if _, err := h.as(a.Record).CreateProduct(bg, product.Input{Name: "First", SKU: "DUP-1", Price: &product.Price{Amount: 1, Currency: "EUR"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.as(a.Record).CreateProduct(bg, product.Input{Name: "Second", SKU: "DUP-1", Price: &product.Price{Amount: 1, Currency: "EUR"}}); err == nil {
		t.Fatal("a second product with the same SKU was created")
	}
	h.drain(t)
	changes, _, _ := h.logged(t, a.Record.TenantID)
	names := map[string]int{}
	for _, c := range changes {
		if n, ok := c.New["name"]; ok && c.Event == "INSERT" {
			names[n.String()]++
		}
	}
	if names["First"] != 1 || names["Second"] != 0 {
		t.Fatalf("logged product inserts %v, want First once and never Second", names)
	}
}

// TestLoggedMarkerIsAcknowledged: once the feed has logged a marker item's
// insert (with the changes before it), it writes the marker's object under
// the tenant's prefix and key, which a restore or migration reads to learn
// the log is complete; other changes write none.
func TestLoggedMarkerIsAcknowledged(t *testing.T) {
	h := newHarness(t)
	a := fixture.NewTenant(t, h.e, "FeedMarker")
	d := h.as(a.Record)
	if _, err := d.CreateProduct(bg, product.Input{Name: "P", SKU: "M-1", Price: &product.Price{Amount: 1, Currency: "EUR"}}); err != nil {
		t.Fatal(err)
	}
	h.drain(t)
	ack := func(id string) (string, bool) {
		t.Helper()
		out, err := h.objects.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String(h.e.Settings.BackupBucket), Key: aws.String(recovery.MarkerKey(a.Record.TenantID, id))})
		var nsk *s3types.NoSuchKey
		if errors.As(err, &nsk) {
			return "", false
		}
		if err != nil {
			t.Fatal(err)
		}
		defer out.Body.Close()
		return aws.ToString(out.SSEKMSKeyId), true
	}
	if _, ok := ack("j-none"); ok {
		t.Fatal("an acknowledgement without a marker")
	}
	if _, _, err := d.PutFeedMarker(bg, "j-marker"); err != nil {
		t.Fatal(err)
	}
	h.drain(t)
	key, ok := ack("j-marker")
	if !ok {
		t.Fatal("the logged marker is not acknowledged")
	}
	if key != a.Record.Placement.KeyARN && !strings.HasSuffix(a.Record.Placement.KeyARN, key) {
		t.Errorf("the acknowledgement is encrypted under %q, not the tenant's key %q", key, a.Record.Placement.KeyARN)
	}
	changes, _, _ := h.logged(t, a.Record.TenantID)
	if !slices.ContainsFunc(changes, func(c changefeed.Change) bool { return c.Keys["sk"].String() == "j-marker" && c.Event == "INSERT" }) {
		t.Fatal("the marker's insert is not in the log it vouches for")
	}
}
