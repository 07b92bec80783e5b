package gateway_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/app/authorizer"
	"github.com/tessera-saas/tessera/internal/local/gateway"
	"github.com/tessera-saas/tessera/internal/platform/route"
)

// countingAuthorizer allows "good-*" headers, denies "deny-*" ones, refuses
// the rest as Unauthorized, and counts its calls.
type countingAuthorizer struct{ calls atomic.Int64 }

func (a *countingAuthorizer) authorize(_ context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	a.calls.Add(1)
	h := req.Headers["Authorization"]
	resource, err := authorizer.StageResource(req.MethodArn)
	if err != nil {
		return events.APIGatewayCustomAuthorizerResponse{}, err
	}
	effect := ""
	switch {
	case strings.HasPrefix(h, "good-"):
		effect = "Allow"
	case strings.HasPrefix(h, "deny-"):
		effect = "Deny"
	default:
		return events.APIGatewayCustomAuthorizerResponse{}, errors.New("Unauthorized")
	}
	return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "p", UsageIdentifierKey: "key-" + h,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: []string{resource}}}}}, nil
}

func authCacheRig(t *testing.T, a *countingAuthorizer, ttl time.Duration) string {
	ok := func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}
	gw := gateway.New(tokenIsTenant{}, map[route.Function]gateway.Handler{route.FunctionAPI: ok}, slog.New(slog.NewJSONHandler(io.Discard, nil)),
		gateway.WithAuthorizer(a.authorize), gateway.WithAuthorizerCache(ttl, 100))
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return srv.URL
}

func status(t *testing.T, url, path, authorization string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url+path, nil)
	req.Header.Set("Authorization", authorization)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAuthorizerResultCache: as API Gateway's authorizer result cache, the
// local gateway asks the authorizer once per Authorization header while the
// answer is fresh, for every tenant route (the policy covers the stage),
// keeps Deny answers as well as Allow ones, and never keeps a refusal.
func TestAuthorizerResultCache(t *testing.T) {
	t.Run("a header is authorized once while fresh, across routes", func(t *testing.T) {
		a := &countingAuthorizer{}
		url := authCacheRig(t, a, 5*time.Minute)
		for i, path := range []string{"/v1/products", "/v1/orders", "/v1/products/01JCZ8W3T1K5Q7R9S2V4X6Y8Z0", "/v1/users"} {
			if st := status(t, url, path, "good-a"); st != 200 {
				t.Fatalf("request %d (%s): %d", i, path, st)
			}
		}
		status(t, url, "/v1/products", "good-b")
		if got := a.calls.Load(); got != 2 {
			t.Fatalf("authorizer called %d times for 2 distinct headers, want 2", got)
		}
	})
	t.Run("a Deny is cached too", func(t *testing.T) {
		a := &countingAuthorizer{}
		url := authCacheRig(t, a, 5*time.Minute)
		for i := 0; i < 3; i++ {
			if st := status(t, url, "/v1/products", "deny-a"); st != http.StatusForbidden {
				t.Fatalf("denied request %d: %d, want 403", i, st)
			}
		}
		if got := a.calls.Load(); got != 1 {
			t.Fatalf("authorizer called %d times, want 1", got)
		}
	})
	t.Run("an answer is kept for the TTL only", func(t *testing.T) {
		a := &countingAuthorizer{}
		url := authCacheRig(t, a, 100*time.Millisecond)
		status(t, url, "/v1/products", "good-a")
		time.Sleep(150 * time.Millisecond)
		status(t, url, "/v1/products", "good-a")
		if got := a.calls.Load(); got != 2 {
			t.Fatalf("authorizer called %d times, want 2", got)
		}
	})
	t.Run("Unauthorized is not cached", func(t *testing.T) {
		a := &countingAuthorizer{}
		url := authCacheRig(t, a, 5*time.Minute)
		for i := 0; i < 3; i++ {
			if st := status(t, url, "/v1/products", "bad-token"); st != 401 {
				t.Fatalf("bad token request %d: %d, want 401", i, st)
			}
		}
		if got := a.calls.Load(); got != 3 {
			t.Fatalf("authorizer called %d times for 3 bad requests, want 3", got)
		}
	})
	t.Run("no Authorization header never reaches the authorizer", func(t *testing.T) {
		a := &countingAuthorizer{}
		url := authCacheRig(t, a, 5*time.Minute)
		req, _ := http.NewRequest("GET", url+"/v1/products", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || a.calls.Load() != 0 {
			t.Fatalf("status %d, %d authorizer calls; want 401 and none", resp.StatusCode, a.calls.Load())
		}
	})
}
