package operatorapi_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/local/testenv/apievent"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// createAs is POST /v1/tenants by the operator whose sub is sub, with an
// Idempotency-Key.
func createAs(t *testing.T, sub, key, body string) events.APIGatewayProxyRequest {
	t.Helper()
	ev := operatorRequest(t, "POST", "/v1/tenants", nil, body, "operators")
	ev.RequestContext.Authorizer["claims"].(map[string]any)["sub"] = sub
	ev.Headers["Idempotency-Key"] = key
	return ev
}

// TestIdempotencyKeysArePerOperator: a key replays only for the operator
// who sent it; another operator who happens to pick the same key creates a
// tenant of its own and never sees the first operator's.
func TestIdempotencyKeysArePerOperator(t *testing.T) {
	s := newSuite(t)
	h := s.tenants(t)
	key := "k-" + tenant.NewID()[2:14]
	body := `{"name":"Pied Piper","tier":"basic","adminEmail":"richard@piper.test"}`
	opA, opB := "op-a-"+key, "op-b-"+key

	first := doTenants(t, h, createAs(t, opA, key, body))
	if first.Status != http.StatusAccepted {
		t.Fatalf("A's create = %+v", first)
	}
	replay := doTenants(t, h, createAs(t, opA, key, body))
	if replay.Status != http.StatusOK || replay.Body["tenantId"] != first.Body["tenantId"] {
		t.Fatalf("A's retry = %+v, want a replay of %v", replay, first.Body["tenantId"])
	}
	other := doTenants(t, h, createAs(t, opB, key, body))
	if other.Status != http.StatusAccepted || other.Body["tenantId"] == first.Body["tenantId"] {
		t.Fatalf("B with A's key = %d %v, want 202 and a tenant of its own (A's is %v)", other.Status, other.Body["tenantId"], first.Body["tenantId"])
	}
	// B's key is B's: a different body under it is a mismatch for B, and
	// A's replay is unaffected.
	if r := doTenants(t, h, createAs(t, opB, key, `{"name":"Other","tier":"basic","adminEmail":"x@piper.test"}`)); r.Status != http.StatusConflict {
		t.Fatalf("B reusing its key for another request = %+v", r)
	}
	if r := doTenants(t, h, createAs(t, opA, key, body)); r.Status != http.StatusOK || r.Body["tenantId"] != first.Body["tenantId"] {
		t.Fatalf("A's replay after B = %+v", r)
	}
}

// TestIdempotencyKeysCarryATTL: the stored key is the operator's, and
// carries the table's TTL attribute (epoch seconds) 24 h ahead, so DynamoDB
// deletes it.
func TestIdempotencyKeysCarryATTL(t *testing.T) {
	s := newSuite(t)
	h := s.tenants(t)
	key := "k-" + tenant.NewID()[2:14]
	sub := "op-ttl-" + key
	start := time.Now()
	// The operator is the verified token's sub: the pool's, for the user
	// apievent made for this event.
	ev := apievent.Fresh(t, createAs(t, sub, key, `{"name":"Raviga","tier":"basic","adminEmail":"monica@raviga.test"}`))
	sub = ev.RequestContext.Authorizer["claims"].(map[string]any)["sub"].(string)
	if r := doTenants(t, h, ev); r.Status != http.StatusAccepted {
		t.Fatalf("create = %+v", r)
	}
	out, err := dynamodb.NewFromConfig(s.e.Config).GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(s.e.Settings.CatalogTable),
		ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "IDEMPOTENCY#" + sub + "#" + key},
			"sk": &ddbtypes.AttributeValueMemberS{Value: "CREATE"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Item == nil {
		t.Fatalf("no idempotency item under the operator's sub and the key")
	}
	n, ok := out.Item["expiresAt"].(*ddbtypes.AttributeValueMemberN)
	if !ok {
		t.Fatalf("idempotency item has no numeric expiresAt: %v", out.Item)
	}
	exp, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	want := start.Add(24 * time.Hour).Unix()
	if exp < want-5 || exp > want+60 {
		t.Fatalf("expiresAt %d, want about %d (24 h from now)", exp, want)
	}
}
