package gateway_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/local/gateway"
	"github.com/tessera-saas/tessera/internal/platform/route"
)

// TestPublicRouteNeedsNoToken: the API document's route (route.Public)
// reaches its function without an Authorization header and without any
// authorizer or verifier, as API Gateway's method with authorization NONE
// does; the event carries no authorizer context. A tenant route without a
// token is still 401.
func TestPublicRouteNeedsNoToken(t *testing.T) {
	var got *events.APIGatewayProxyRequest
	api := func(_ context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		got = &req
		return events.APIGatewayProxyResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"openapi":"3.1.0"}`}, nil
	}
	gw := gateway.New(nil, map[route.Function]gateway.Handler{route.FunctionAPI: api}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(gw)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"openapi":"3.1.0"}` {
		t.Fatalf("GET /v1/openapi.json without a token = %d %s, want 200 and the document", resp.StatusCode, body)
	}
	if got == nil || got.Resource != "/v1/openapi.json" || len(got.RequestContext.Authorizer) != 0 {
		t.Fatalf("event = %+v, want the public route without authorizer context", got)
	}

	got = nil
	resp, err = http.Get(srv.URL + "/v1/products")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || got != nil {
		t.Fatalf("GET /v1/products without a token = %d (function called: %v), want 401", resp.StatusCode, got != nil)
	}
}
