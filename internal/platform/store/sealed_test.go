package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/order"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

func (h harness) rawOrder(t *testing.T, tenantID, id string) map[string]types.AttributeValue {
	t.Helper()
	out, err := h.ddb.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(h.e.Settings.PooledTable),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: tenantID + "#ORDER"}, "sk": &types.AttributeValueMemberS{Value: id}}})
	if err != nil || out.Item == nil {
		t.Fatalf("raw order %s: %v", id, err)
	}
	return out.Item
}

func (h harness) setAttr(t *testing.T, tenantID, id, attr string, v types.AttributeValue) {
	t.Helper()
	_, err := h.ddb.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(h.e.Settings.PooledTable),
		Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: tenantID + "#ORDER"}, "sk": &types.AttributeValueMemberS{Value: id}},
		UpdateExpression:          aws.String("SET #a = :v"),
		ExpressionAttributeNames:  map[string]string{"#a": attr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": v}})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSealedFieldsAreBoundToTheirItem: customer fields are ciphertext at
// rest, and a ciphertext copied into another attribute, another item or
// another tenant's item fails its integrity check instead of decrypting.
func TestSealedFieldsAreBoundToTheirItem(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "acme").Record
	globex := fixture.NewTenant(t, h.e, "globex").Record
	a, g := h.as(acme), h.as(globex)
	newOrder := func(data store.TenantData, email string) string {
		p, err := data.CreateProduct(bg, anvil("S-"+email[:3]))
		if err != nil {
			t.Fatal(err)
		}
		o, err := data.CreateOrder(bg, order.Input{ProductID: p.ID, Quantity: 1, Status: order.StatusPending,
			Customer: &order.Customer{Name: "Name of " + email, Email: email}})
		if err != nil {
			t.Fatal(err)
		}
		return o.ID
	}
	a1 := newOrder(a, "one@acme.test")
	raw := h.rawOrder(t, acme.TenantID, a1)
	email := raw["customerEmail"].(*types.AttributeValueMemberB).Value
	if bytes.Contains(email, []byte("one@acme.test")) || bytes.Contains(raw["customerName"].(*types.AttributeValueMemberB).Value, []byte("Name of")) {
		t.Fatal("customer fields stored in the clear")
	}

	// Within the item: email ciphertext into the name attribute.
	a2 := newOrder(a, "two@acme.test")
	h.setAttr(t, acme.TenantID, a2, "customerName", raw["customerEmail"])
	if _, err := a.GetOrder(bg, a2); !errors.Is(err, crypto.ErrIntegrity) {
		t.Fatalf("swapped attribute: err = %v, want ErrIntegrity", err)
	}
	// Another item of the same tenant.
	a3 := newOrder(a, "thr@acme.test")
	h.setAttr(t, acme.TenantID, a3, "customerEmail", raw["customerEmail"])
	if _, err := a.GetOrder(bg, a3); !errors.Is(err, crypto.ErrIntegrity) {
		t.Fatalf("moved to another item: err = %v, want ErrIntegrity", err)
	}
	// Another tenant's item.
	g1 := newOrder(g, "one@globex.test")
	h.setAttr(t, globex.TenantID, g1, "customerEmail", raw["customerEmail"])
	o, err := g.GetOrder(bg, g1)
	if err == nil || o.Customer.Email == "one@acme.test" {
		t.Fatalf("acme ciphertext opened in globex's item: %+v, %v", o, err)
	}
	// The original still opens.
	if got, err := a.GetOrder(bg, a1); err != nil || got.Customer.Email != "one@acme.test" {
		t.Fatalf("original = %+v, %v", got, err)
	}
}
