package tenantapi_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/features"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// exports counts the tenant's export records, read directly from the table.
func (s *suite) exports(t *testing.T, tenantID string) int {
	t.Helper()
	out, err := s.ddb.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 aws.String(s.e.Settings.PooledTable),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: tenantID + "#EXPORT"}},
		Select:                    types.SelectCount,
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.Count)
}

// queued is the number of messages on the basic tier's export queue.
func (s *suite) queued(t *testing.T) int {
	t.Helper()
	out, err := sqs.NewFromConfig(s.e.Config).GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(s.e.Settings.ExportQueueURLs[catalog.TierBasic]),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible},
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range out.Attributes {
		k, _ := strconv.Atoi(v)
		n += k
	}
	return n
}

func TestExportRequestsAcceptNoBodyOrAnEmptyObject(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	fixture.Override(t, s.e, acme.TenantID, features.Exports, true) // a basic tenant may not export otherwise
	for i, body := range []string{"", "{}", " { } \n"} {
		before := s.queued(t)
		r := s.do(t, request(t, acme.TenantID, "POST", "/v1/exports", nil, body))
		if r.Status != http.StatusAccepted || r.Body["status"] != "QUEUED" || r.Body["id"] == "" || r.Body["createdAt"] == "" {
			t.Fatalf("body %q: %+v", body, r)
		}
		if n := s.exports(t, acme.TenantID); n != i+1 {
			t.Fatalf("body %q: %d export records, want %d", body, n, i+1)
		}
		if after := s.queued(t); after != before+1 {
			t.Fatalf("body %q: queue went from %d to %d messages, want one more", body, before, after)
		}
		got := s.do(t, request(t, acme.TenantID, "GET", "/v1/exports/{id}", map[string]string{"id": r.Body["id"].(string)}, ""))
		if got.Status != http.StatusOK || got.Body["id"] != r.Body["id"] || got.Body["status"] != "QUEUED" {
			t.Fatalf("get = %+v", got)
		}
	}
}

func TestBadExportRequestsAreRejectedAndWriteNothing(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	id := acme.TenantID
	member := func(ev events.APIGatewayProxyRequest) events.APIGatewayProxyRequest {
		ev.RequestContext.Authorizer["role"] = string(tenant.RoleMember)
		return ev
	}
	tests := []struct {
		name   string
		ev     events.APIGatewayProxyRequest
		status int
		code   string
	}{
		{"unknown field", request(t, id, "POST", "/v1/exports", nil, `{"format":"csv"}`), 400, edge.CodeUnknownField},
		{"tenant in body", request(t, id, "POST", "/v1/exports", nil, `{"tenantId":"t-other"}`), 400, edge.CodeUnknownField},
		{"array", request(t, id, "POST", "/v1/exports", nil, `[]`), 400, edge.CodeInvalidType},
		{"null", request(t, id, "POST", "/v1/exports", nil, `null`), 400, edge.CodeInvalidType},
		{"string", request(t, id, "POST", "/v1/exports", nil, `"all"`), 400, edge.CodeInvalidType},
		{"malformed", request(t, id, "POST", "/v1/exports", nil, `{`), 400, edge.CodeMalformedJSON},
		{"two objects", request(t, id, "POST", "/v1/exports", nil, `{}{}`), 400, edge.CodeMalformedJSON},
		{"wrong media type", func() events.APIGatewayProxyRequest {
			ev := request(t, id, "POST", "/v1/exports", nil, `{}`)
			ev.Headers["Content-Type"] = "text/csv"
			return ev
		}(), 415, edge.CodeUnsupportedMedia},
		{"member may not export", member(request(t, id, "POST", "/v1/exports", nil, ``)), 403, edge.CodeForbidden},
		{"member may not read exports", member(request(t, id, "GET", "/v1/exports/{id}", map[string]string{"id": "01JCZ8W3T1K5Q7R9S2V4X6Y8Z0"}, "")), 403, edge.CodeForbidden},
		{"malformed id", request(t, id, "GET", "/v1/exports/{id}", map[string]string{"id": "x#EXPORT"}, ""), 400, edge.CodeInvalidID},
		{"unknown id", request(t, id, "GET", "/v1/exports/{id}", map[string]string{"id": "01JCZ8W3T1K5Q7R9S2V4X6Y8Z0"}, ""), 404, edge.CodeNotFound},
		{"no list route", request(t, id, "GET", "/v1/exports", nil, ""), 404, edge.CodeRouteNotFound},
	}
	before := s.queued(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, tc.ev)
			if r.Status != tc.status || r.Code != tc.code {
				t.Fatalf("got %d %q (%v), want %d %q", r.Status, r.Code, r.Body, tc.status, tc.code)
			}
			if n := s.exports(t, id); n != 0 {
				t.Fatalf("rejected request left %d export records", n)
			}
			if after := s.queued(t); after != before {
				t.Fatalf("rejected request queued a message: %d -> %d", before, after)
			}
		})
	}
}
