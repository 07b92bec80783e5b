package apievent

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/local/emulator"
)

// Sample loads events/<name> and makes it a request of a user of tenant
// tenantID (the sample's own tenant when tenantID is empty).
func Sample(t testing.TB, name, tenantID string) events.APIGatewayProxyRequest {
	t.Helper()
	root, err := emulator.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if claims, ok := ev.RequestContext.Authorizer["claims"].(map[string]any); ok && tenantID != "" {
		claims["custom:tenantId"] = tenantID
	}
	return ev
}

// Request is a request of tenant tenantID's admin to method resource.
func Request(t testing.TB, tenantID, method, resource string, params map[string]string, body string) events.APIGatewayProxyRequest {
	t.Helper()
	ev := Sample(t, "api-rest-create-product.json", tenantID)
	ev.HTTPMethod, ev.Resource, ev.PathParameters, ev.Body = method, resource, params, body
	ev.QueryStringParameters = nil
	return ev
}

// Operator is a request of a user in the Cognito groups groups, of no
// tenant (an operator when groups is "operators").
func Operator(t testing.TB, method, resource string, params map[string]string, body string, groups string) events.APIGatewayProxyRequest {
	t.Helper()
	ev := Request(t, "", method, resource, params, body)
	claims := ev.RequestContext.Authorizer["claims"].(map[string]any)
	delete(claims, "custom:tenantId")
	delete(claims, "custom:role")
	claims["cognito:groups"] = groups
	claims["email"] = "operator@tessera.test"
	return ev
}

// Result is a handler's response: the status, the JSON body and the error
// code, if any.
type Result struct {
	Status int
	Body   map[string]any
	Code   string
}

// Handler is a Lambda handler of REST proxy events.
type Handler func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// Do sends ev to h and reads the response; a handler error or a body that
// is not JSON fails the test.
func Do(t testing.TB, h Handler, ev events.APIGatewayProxyRequest) Result {
	t.Helper()
	resp, err := h(context.Background(), ev)
	if err != nil {
		t.Fatalf("handler returned an error: %v", err)
	}
	r := Result{Status: resp.StatusCode}
	if resp.Body != "" {
		if err := json.Unmarshal([]byte(resp.Body), &r.Body); err != nil {
			t.Fatalf("body is not JSON: %q", resp.Body)
		}
		if e, ok := r.Body["error"].(map[string]any); ok {
			r.Code, _ = e["code"].(string)
		}
	}
	return r
}
