package backup_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tessera-saas/tessera/internal/control/backup"
	"github.com/tessera-saas/tessera/internal/local/seed"
	"github.com/tessera-saas/tessera/internal/local/streampump"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/order"
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
	cat     *store.Catalog
	data    *store.Store
	objects *s3.Client
	svc     *backup.Service
	deps    backup.Deps
}

// newHarness runs the change feed (the stream pump and the feed's handler)
// in the background for the test's life, as `tessera up` does.
func newHarness(t *testing.T) *harness {
	t.Helper()
	e := testenv.Setup(t)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h := &harness{e: e, objects: awsconfig.NewS3(e.Config), cat: store.NewCatalog(store.NewClient(e.Config), e.Settings.CatalogTable)}
	creds := access.NewCredentials(sts.NewFromConfig(e.Config), e.Settings.DataAccessRoleARN)
	h.data = store.New(store.NewClient(e.Config), crypto.NewEnvelope(kms.NewFromConfig(e.Config)), store.WithCredentials(creds))
	feed := wire.NewChangeFeed(e.Config, e.Settings, log, io.Discard)
	pump := streampump.New(dynamodbstreams.NewFromConfig(e.Config),
		streampump.TableMatcher(e.Settings.PooledTable, access.DedicatedTablePrefix(e.Settings.Stage)), e.Config.Region,
		feed.Handle,
		streampump.WithInterval(100*time.Millisecond), streampump.WithLogger(log))
	ctx, cancel := context.WithCancel(bg)
	done := make(chan struct{})
	go func() { defer close(done); pump.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	h.deps = backup.Deps{Catalog: h.cat, Data: h.data, Creds: creds, Objects: h.objects, Bucket: e.Settings.BackupBucket,
		Cloner: seed.Cloner{Deps: fixture.SeedDeps(e), Password: fixture.Password, Domain: "clone.test"}, Wait: 90 * time.Second, PartItems: 7, Log: log}
	h.svc = backup.New(h.deps)
	return h
}

func (h *harness) as(t *testing.T, tenantID string) store.TenantData {
	t.Helper()
	rec, err := h.cat.GetTenant(bg, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := catalog.ScopeOf(tenant.Tenant{ID: rec.TenantID, UserID: "u", Role: tenant.RoleAdmin}, rec)
	if err != nil {
		t.Fatal(err)
	}
	return h.data.For(sc)
}

// view is what the API returns for a tenant: every product and order, as
// JSON (customers decrypted).
func (h *harness) view(t *testing.T, tenantID string) string {
	t.Helper()
	d := h.as(t, tenantID)
	var out struct {
		Products []product.Product
		Orders   []order.Order
	}
	for cursor := ""; ; {
		p, err := d.ListProducts(bg, store.PageRequest{Limit: 100, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		out.Products = append(out.Products, p.Items...)
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	for cursor := ""; ; {
		p, err := d.ListOrders(bg, store.PageRequest{Limit: 100, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		out.Orders = append(out.Orders, p.Items...)
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// raw returns every stored item of the tenant, digested, as an operator
// reads the table (the function's own credentials).
func (h *harness) raw(t *testing.T, rec catalog.Record) map[string][32]byte {
	t.Helper()
	ddb := dynamodb.NewFromConfig(h.e.Config)
	out := map[string][32]byte{}
	for _, entity := range store.DataPartitions {
		p := dynamodb.NewQueryPaginator(ddb, &dynamodb.QueryInput{TableName: aws.String(rec.Placement.Table), KeyConditionExpression: aws.String("pk = :pk"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": &ddbtypes.AttributeValueMemberS{Value: rec.TenantID + "#" + entity}}})
		for p.HasMorePages() {
			page, err := p.NextPage(bg)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Items {
				out[it["pk"].(*ddbtypes.AttributeValueMemberS).Value+"/"+it["sk"].(*ddbtypes.AttributeValueMemberS).Value] = backup.Digest(it)
			}
		}
	}
	return out
}

// mark returns a time between the changes before it and after it (the
// stream's change times may be whole seconds).
func mark() time.Time {
	time.Sleep(1100 * time.Millisecond)
	t := time.Now().UTC()
	time.Sleep(1100 * time.Millisecond)
	return t
}

func mustProduct(t *testing.T, d store.TenantData, name, sku string, amount int64) product.Product {
	t.Helper()
	p, err := d.CreateProduct(bg, product.Input{Name: name, SKU: sku, Price: &product.Price{Amount: amount, Currency: "EUR"}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustOrder(t *testing.T, d store.TenantData, productID, customer string) order.Order {
	t.Helper()
	o, err := d.CreateOrder(bg, order.Input{ProductID: productID, Quantity: 2, Customer: &order.Customer{Name: customer, Email: strings.ToLower(customer) + "@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// backupNow takes an operator's backup of the tenant and returns its
// snapshot.
func (h *harness) backupNow(t *testing.T, tenantID string) recovery.Snapshot {
	t.Helper()
	job, err := h.svc.RequestBackup(bg, tenantID, "op-1", "", recovery.TriggerOperator)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Run(bg, tenantID, job.ID); err != nil {
		t.Fatal(err)
	}
	job, err = h.svc.Job(bg, tenantID, job.ID)
	if err != nil || job.State != recovery.StateSucceeded {
		t.Fatalf("backup job = %+v, %v", job, err)
	}
	snaps, err := h.svc.Snapshots(bg, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(snaps, func(s recovery.Snapshot) bool { return s.ID == job.SnapshotID })
	if i < 0 {
		t.Fatalf("snapshot %s of job %s not listed in %+v", job.SnapshotID, job.ID, snaps)
	}
	return snaps[i]
}

func (h *harness) restore(t *testing.T, tenantID string, to time.Time, into string) recovery.Job {
	t.Helper()
	job, err := h.svc.RequestRestore(bg, backup.RestoreRequest{TenantID: tenantID, To: to, IntoName: into, Actor: "op-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Run(bg, tenantID, job.ID); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if job, err = h.svc.Job(bg, tenantID, job.ID); err != nil {
		t.Fatal(err)
	}
	return job
}

// history writes a scripted history of creates, updates and deletes to the
// tenant around a backup, and returns three points in time and what the API
// showed at each.
func (h *harness) history(t *testing.T, tenantID string) (points []time.Time, views []string) {
	t.Helper()
	d := h.as(t, tenantID)
	anvil := mustProduct(t, d, "Anvil", "A-1", 100)
	rope := mustProduct(t, d, "Rope", "R-1", 20)
	o1 := mustOrder(t, d, anvil.ID, "Wile")
	for i := range 9 { // enough for several snapshot parts
		mustProduct(t, d, fmt.Sprintf("Filler %d", i), fmt.Sprintf("F-%d", i), int64(i+1))
	}
	h.backupNow(t, tenantID)

	anvil, err := d.UpdateProduct(bg, anvil.ID, anvil.Version, product.Input{Name: "Anvil XL", SKU: "A-1", Price: &product.Price{Amount: 150, Currency: "EUR"}})
	if err != nil {
		t.Fatal(err)
	}
	mustOrder(t, d, rope.ID, "Road Runner")
	points = append(points, mark())
	views = append(views, h.view(t, tenantID))

	if err := d.DeleteProduct(bg, rope.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteOrder(bg, o1.ID); err != nil {
		t.Fatal(err)
	}
	mustProduct(t, d, "Dynamite", "D-1", 500)
	if _, err := d.UpdateProduct(bg, anvil.ID, anvil.Version, product.Input{Name: "Anvil XXL", SKU: "A-2", Price: &product.Price{Amount: 175, Currency: "EUR"}}); err != nil {
		t.Fatal(err)
	}
	points = append(points, mark())
	views = append(views, h.view(t, tenantID))

	if err := d.DeleteProduct(bg, anvil.ID); err != nil {
		t.Fatal(err)
	}
	mustProduct(t, d, "Rocket Skates", "S-1", 900)
	points = append(points, mark())
	views = append(views, h.view(t, tenantID))

	mustProduct(t, d, "Too Late", "L-1", 1)
	return points, views
}

// TestRestoreInPlaceToThreePointsInTime: a pooled tenant restored in place
// to each of three times reads exactly what the API returned then; a
// bystander tenant of the same pool is byte-identical throughout.
func TestRestoreInPlaceToThreePointsInTime(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "RestoreAcme").Record
	bystander := fixture.NewTenant(t, h.e, "RestoreBystander").Record
	mustProduct(t, h.as(t, bystander.TenantID), "Bystander", "B-1", 5)
	before := h.raw(t, bystander)

	points, views := h.history(t, acme.TenantID)
	for _, i := range []int{1, 0, 2} {
		job := h.restore(t, acme.TenantID, points[i], "")
		if job.State != recovery.StateSucceeded || job.Phase != recovery.PhaseDone || job.SafetyID == "" {
			t.Fatalf("restore to point %d: job %+v", i, job)
		}
		rec, err := h.cat.GetTenant(bg, acme.TenantID)
		if err != nil || rec.Status != catalog.StatusActive {
			t.Fatalf("after restore %d: tenant %+v, %v", i, rec, err)
		}
		if got := h.view(t, acme.TenantID); got != views[i] {
			t.Fatalf("restore to point %d:\n got %s\nwant %s", i, got, views[i])
		}
	}
	if after := h.raw(t, bystander); !mapsEqual(before, after) {
		t.Fatalf("bystander changed: %d items before, %d after", len(before), len(after))
	}
	audit, err := h.cat.AuditTrail(bg, acme.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Action)
	}
	for _, want := range []string{"backup-requested", "backup", "restore-requested", "restore-started", "restored"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit lacks %q: %v", want, actions)
		}
	}
}

func mapsEqual(a, b map[string][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestRestoreIntoNewTenant: a clone made for each of three times holds the
// source's products and orders exactly as the API returned them then
// (customers readable under the clone's own key), and the source is
// untouched.
func TestRestoreIntoNewTenant(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "CloneAcme").Record
	points, views := h.history(t, acme.TenantID)
	now := h.raw(t, acme)

	for i := range points {
		job := h.restore(t, acme.TenantID, points[i], fmt.Sprintf("Acme inspection %d", i))
		if job.State != recovery.StateSucceeded || job.IntoTenant == "" || job.IntoTenant == acme.TenantID {
			t.Fatalf("clone job %d = %+v", i, job)
		}
		clone, err := h.cat.GetTenant(bg, job.IntoTenant)
		if err != nil || clone.Status != catalog.StatusActive || clone.Placement.KeyARN == acme.Placement.KeyARN {
			t.Fatalf("clone %d = %+v, %v", i, clone, err)
		}
		if got := h.view(t, clone.TenantID); got != views[i] {
			t.Fatalf("clone to point %d:\n got %s\nwant %s", i, got, views[i])
		}
	}
	if after := h.raw(t, acme); !mapsEqual(now, after) {
		t.Fatal("the source tenant changed")
	}
}

// TestPremiumTenantRestoresInItsDedicatedTable: a tenant with a table of its
// own is backed up and restored there.
func TestPremiumTenantRestoresInItsDedicatedTable(t *testing.T) {
	h := newHarness(t)
	initech := fixture.NewTenant(t, h.e, "RestoreInitech").Record
	table := access.DedicatedTable(h.e.Settings.Stage, initech.TenantID)
	ddb := dynamodb.NewFromConfig(h.e.Config)
	if _, err := ddb.CreateTable(bg, &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}, {AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange}},
		StreamSpecification:  &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages},
	}); err != nil {
		t.Fatal(err)
	}
	placement := catalog.Placement{Cell: initech.Placement.Cell, Table: table, Dedicated: true, KeyARN: initech.Placement.KeyARN}
	if _, err := h.cat.Apply(bg, initech.TenantID, store.Change{Tier: catalog.TierPremium, Placement: &placement}, nil, nil); err != nil {
		t.Fatal(err)
	}
	points, views := h.history(t, initech.TenantID)
	job := h.restore(t, initech.TenantID, points[1], "")
	if job.State != recovery.StateSucceeded {
		t.Fatalf("job = %+v", job)
	}
	if got := h.view(t, initech.TenantID); got != views[1] {
		t.Fatalf("premium restore:\n got %s\nwant %s", got, views[1])
	}
	snaps, err := h.svc.Snapshots(bg, initech.TenantID)
	if err != nil || len(snaps) != 2 || snaps[0].Table != table || snaps[0].Tier != string(catalog.TierPremium) {
		t.Fatalf("snapshots = %+v, %v", snaps, err)
	}
}
