package gateway_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/local/gateway"
	"github.com/tessera-saas/tessera/internal/local/throttle"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/route"
)

// headerVerifier (operator routes) refuses every token, and
// headerAuthorizer (tenant routes) allows "good" on the basic tier, allows
// "nokey" without an API key and refuses the rest. The gateway's own
// answers are under test here, not token verification (TestTokenAttacks
// covers that).
type headerVerifier struct{}

func (headerVerifier) Verify(context.Context, string) (map[string]string, error) {
	return nil, errors.New("bad token")
}

func headerAuthorizer(_ context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	token := req.Headers["Authorization"]
	if token != "good" && token != "nokey" {
		return events.APIGatewayCustomAuthorizerResponse{}, errors.New("Unauthorized")
	}
	resp := events.APIGatewayCustomAuthorizerResponse{PrincipalID: "u",
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{
			{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{"*"}}}},
		Context: map[string]any{"tier": string(catalog.TierBasic)}}
	if token == "good" {
		resp.UsageIdentifierKey = "key-of-the-header-test"
	}
	return resp, nil
}

// TestGatewayErrorsCarryTheHandlersSecurityHeaders: the answers the gateway
// makes itself (401, 403, 404, 405, 429) carry the same Cache-Control and
// X-Content-Type-Options as the handlers' answers (edge.Finish).
func TestGatewayErrorsCarryTheHandlersSecurityHeaders(t *testing.T) {
	frozen := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) // no refill during the test
	limiter := throttle.New(throttle.WithClock(func() time.Time { return frozen }))
	ok := func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: `{}`}, nil
	}
	gw := gateway.New(headerVerifier{}, map[route.Function]gateway.Handler{route.FunctionAPI: ok, route.FunctionTenants: ok},
		slog.New(slog.NewJSONHandler(io.Discard, nil)), gateway.WithAuthorizer(headerAuthorizer), gateway.WithLimits(limiter))
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)

	send := func(t *testing.T, method, path, token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	check := func(t *testing.T, resp *http.Response, status int) {
		t.Helper()
		if resp.StatusCode != status {
			t.Fatalf("status %d, want %d", resp.StatusCode, status)
		}
		for h, want := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Content-Type": "application/json"} {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("%d answer: %s = %q, want %q", status, h, got, want)
			}
		}
	}
	t.Run("401 no token", func(t *testing.T) { check(t, send(t, "GET", "/v1/products", ""), http.StatusUnauthorized) })
	t.Run("401 bad token", func(t *testing.T) { check(t, send(t, "GET", "/v1/products", "forged"), http.StatusUnauthorized) })
	t.Run("401 bad operator token", func(t *testing.T) { check(t, send(t, "GET", "/v1/tenants", "forged"), http.StatusUnauthorized) })
	t.Run("403 no api key", func(t *testing.T) { check(t, send(t, "GET", "/v1/products", "nokey"), http.StatusForbidden) })
	t.Run("404 no route", func(t *testing.T) { check(t, send(t, "GET", "/v1/nothing-here", "good"), http.StatusNotFound) })
	t.Run("405 wrong method", func(t *testing.T) { check(t, send(t, "PATCH", "/v1/products", "good"), http.StatusMethodNotAllowed) })
	t.Run("429 over the rate", func(t *testing.T) {
		var last *http.Response
		for i := 0; i < 1000; i++ { // the basic tier's burst is far below this
			if last = send(t, "GET", "/v1/products", "good"); last.StatusCode != http.StatusOK {
				break
			}
		}
		check(t, last, http.StatusTooManyRequests)
	})
}
