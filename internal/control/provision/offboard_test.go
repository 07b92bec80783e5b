package provision_test

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/tessera-saas/tessera/internal/control/apikey"
	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/provision"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/order"
	"github.com/tessera-saas/tessera/internal/platform/product"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// as is rec's tenant's data in s, as a verified caller of the tenant
// reaches it.
func as(t *testing.T, s *store.Store, rec catalog.Record) store.TenantData {
	t.Helper()
	sc, err := catalog.ScopeOf(tenant.Tenant{ID: rec.TenantID, UserID: "u", Role: tenant.RoleAdmin}, rec)
	if err != nil {
		t.Fatal(err)
	}
	return s.For(sc)
}

// onboarded returns an ACTIVE tenant with a product and an order.
func (h harness) onboarded(t *testing.T, tier catalog.Tier) (bus.Detail, catalog.Record, string) {
	t.Helper()
	d := h.requested(t, tier)
	if err := processUntilDone(h.ctx, t, provision.New(h.deps()), bus.TenantOnboardingRequested, d); err != nil {
		t.Fatal(err)
	}
	rec := h.assertActive(t, d)
	data := h.deps().Data
	p, err := as(t, data, rec).CreateProduct(h.ctx, product.Input{Name: "P", SKU: "P-1", Price: &product.Price{Amount: 1, Currency: "EUR"}})
	if err != nil {
		t.Fatal(err)
	}
	o, err := as(t, data, rec).CreateOrder(h.ctx, order.Input{ProductID: p.ID, Quantity: 1, Status: order.StatusPending, Customer: &order.Customer{Name: "N", Email: "secret-" + rec.TenantID + "@x.test"}})
	if err != nil {
		t.Fatal(err)
	}
	return d, rec, o.ID
}

func (h harness) rawEmail(t *testing.T, rec catalog.Record, orderID string) []byte {
	t.Helper()
	out, err := dynamodb.NewFromConfig(h.e.Config).GetItem(h.ctx, &dynamodb.GetItemInput{TableName: aws.String(rec.Placement.Table),
		Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: rec.TenantID + "#ORDER"}, "sk": &ddbtypes.AttributeValueMemberS{Value: orderID}}})
	if err != nil || out.Item == nil {
		t.Fatalf("raw order: %v", err)
	}
	return out.Item["customerEmail"].(*ddbtypes.AttributeValueMemberB).Value
}

func (h harness) offboard(t *testing.T, d bus.Detail) {
	t.Helper()
	cat := h.deps().Catalog
	if _, err := cat.Apply(h.ctx, d.TenantID, store.Change{From: []catalog.Status{catalog.StatusActive}, To: catalog.StatusOffboarding}, nil, nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // a duplicated event is harmless
		if err := processUntilDone(h.ctx, t, provision.New(h.deps()), bus.TenantOffboardingRequested, d); err != nil {
			t.Fatalf("offboard run %d: %v", i, err)
		}
	}
}

func TestOffboardingShredsOnlyThatTenant(t *testing.T) {
	h := newHarness(t)
	gone, goneRec, goneOrder := h.onboarded(t, catalog.TierBasic)
	kept, keptRec, keptOrder := h.onboarded(t, catalog.TierBasic)
	// A second user of the tenant that leaves.
	dir := directory.New(cip.NewFromConfig(h.e.Config), h.e.Settings.UserPoolID)
	dir.Invite = false
	member := "member-" + gone.TenantID[2:12] + "@prov.test"
	mu, err := dir.Create(h.ctx, gone.TenantID, tenant.RoleMember, member)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := as(t, h.deps().Data, goneRec).PutUser(h.ctx, store.UserRecord{Email: member, Role: "member", Sub: mu.Sub}); err != nil {
		t.Fatal(err)
	}
	saved := h.rawEmail(t, goneRec, goneOrder) // a ciphertext, as a backup would hold it
	keptSaved := h.rawEmail(t, keptRec, keptOrder)

	h.offboard(t, gone)

	rec := h.record(t, gone.TenantID)
	if rec.Status != catalog.StatusOffboarded {
		t.Fatalf("status %s, want OFFBOARDED", rec.Status)
	}
	audit, err := h.deps().Catalog.AuditTrail(h.ctx, gone.TenantID)
	if err != nil || len(audit) == 0 || audit[len(audit)-1].Action != "offboarded" {
		t.Fatalf("audit = %+v, %v", audit, err)
	}
	for _, email := range []string{gone.AdminEmail, member} {
		if _, ok := h.user(t, email); ok {
			t.Fatalf("user %s survived offboarding", email)
		}
	}
	// The API key is gone: the tenant's clients no longer pass API Gateway.
	if _, found, err := apikey.New(apigateway.NewFromConfig(h.e.Config), h.e.Settings.Stage, h.e.Settings.UsagePlanIDs).Reveal(h.ctx, gone.TenantID); err != nil || found {
		t.Fatalf("API key of the offboarded tenant: found=%v, %v", found, err)
	}
	ddb := dynamodb.NewFromConfig(h.e.Config)
	for _, e := range []string{"PRODUCT", "SKU", "ORDER", "USER"} {
		out, err := ddb.Query(h.ctx, &dynamodb.QueryInput{TableName: aws.String(h.e.Settings.PooledTable), KeyConditionExpression: aws.String("pk = :pk"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": &ddbtypes.AttributeValueMemberS{Value: gone.TenantID + "#" + e}}, Select: ddbtypes.SelectCount})
		if err != nil || out.Count != 0 {
			t.Fatalf("%s items of the offboarded tenant remain: %d %v", e, out.Count, err)
		}
	}
	// The key is disabled and pending deletion: the saved ciphertext cannot
	// be decrypted any more, by a process with no cached data key.
	k := kms.NewFromConfig(h.e.Config)
	desc, err := k.DescribeKey(h.ctx, &kms.DescribeKeyInput{KeyId: aws.String(goneRec.Placement.KeyARN)})
	if err != nil || desc.KeyMetadata.KeyState != kmstypes.KeyStatePendingDeletion {
		t.Fatalf("key state %v, %v; want PendingDeletion", desc.KeyMetadata.KeyState, err)
	}
	fresh := crypto.NewEnvelope(k)
	field := func(r catalog.Record, id string) crypto.Field {
		return crypto.Field{TenantID: r.TenantID, Table: r.Placement.Table, PK: r.TenantID + "#ORDER", SK: id, Attribute: "customerEmail"}
	}
	if pt, err := fresh.Open(h.ctx, crypto.Key{TenantID: gone.TenantID, KeyID: goneRec.Placement.KeyARN}, field(goneRec, goneOrder), saved); err == nil {
		t.Fatalf("shredded ciphertext decrypted to %q", pt)
	}
	// The other tenant is untouched: its key, its data, its admin.
	pt, err := fresh.Open(h.ctx, crypto.Key{TenantID: kept.TenantID, KeyID: keptRec.Placement.KeyARN}, field(keptRec, keptOrder), keptSaved)
	if err != nil || string(pt) != "secret-"+kept.TenantID+"@x.test" {
		t.Fatalf("other tenant's ciphertext = %q, %v", pt, err)
	}
	if o, err := as(t, h.deps().Data, keptRec).GetOrder(h.ctx, keptOrder); err != nil || o.Customer.Email != "secret-"+kept.TenantID+"@x.test" {
		t.Fatalf("other tenant's order = %+v, %v", o, err)
	}
	if _, ok := h.user(t, kept.AdminEmail); !ok {
		t.Fatal("other tenant's admin was removed")
	}
	h.assertActive(t, kept)
}

func TestPremiumOffboardingDeletesTheStack(t *testing.T) {
	h := newHarness(t)
	d, rec, _ := h.onboarded(t, catalog.TierPremium)
	h.offboard(t, d)
	if got := h.record(t, d.TenantID).Status; got != catalog.StatusOffboarded {
		t.Fatalf("status %s", got)
	}
	_, err := dynamodb.NewFromConfig(h.e.Config).DescribeTable(h.ctx, &dynamodb.DescribeTableInput{TableName: aws.String(rec.Placement.Table)})
	var nf *ddbtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("dedicated table survives offboarding: %v", err)
	}
}
