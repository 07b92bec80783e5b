package gateway_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/local/gateway"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// countingVerifier accepts "good-*" tokens (expiring at exp) and counts its
// calls.
type countingVerifier struct {
	calls atomic.Int64
	exp   time.Time
}

func (v *countingVerifier) Verify(_ context.Context, raw string) (map[string]string, error) {
	v.calls.Add(1)
	if len(raw) < 5 || raw[:5] != "good-" {
		return nil, errors.New("invalid token")
	}
	return map[string]string{tenant.ClaimTenantID: tenant.NewID(), tenant.ClaimRole: "admin",
		"exp": v.exp.UTC().Format("Mon Jan 02 15:04:05 UTC 2006")}, nil
}

func authCacheRig(t *testing.T, v *countingVerifier) string {
	ok := func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}
	gw := gateway.New(v, map[route.Function]gateway.Handler{route.FunctionAPI: ok}, slog.New(slog.NewJSONHandler(io.Discard, nil)),
		gateway.WithAuthorizerCache(5*time.Minute, 100))
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return srv.URL
}

func status(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/v1/products", nil)
	req.Header.Set("Authorization", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestAuthorizerCache(t *testing.T) {
	t.Run("a token is verified once while fresh", func(t *testing.T) {
		v := &countingVerifier{exp: time.Now().Add(time.Hour)}
		url := authCacheRig(t, v)
		for i := 0; i < 5; i++ {
			if st := status(t, url, "good-a"); st != 200 {
				t.Fatalf("request %d: %d", i, st)
			}
		}
		status(t, url, "good-b")
		if got := v.calls.Load(); got != 2 {
			t.Fatalf("verifier called %d times for 2 distinct tokens, want 2", got)
		}
	})
	t.Run("a token expiring within the TTL is kept only until its exp", func(t *testing.T) {
		v := &countingVerifier{exp: time.Now().Add(-time.Second)} // the verifier's leeway let it pass
		url := authCacheRig(t, v)
		status(t, url, "good-a")
		status(t, url, "good-a")
		if got := v.calls.Load(); got != 2 {
			t.Fatalf("verifier called %d times, want 2 (a token past exp is never served from the cache)", got)
		}
	})
	t.Run("a rejected token is not cached", func(t *testing.T) {
		v := &countingVerifier{exp: time.Now().Add(time.Hour)}
		url := authCacheRig(t, v)
		for i := 0; i < 3; i++ {
			if st := status(t, url, "bad-token"); st != 401 {
				t.Fatalf("bad token request %d: %d, want 401", i, st)
			}
		}
		if got := v.calls.Load(); got != 3 {
			t.Fatalf("verifier called %d times for 3 bad requests, want 3", got)
		}
	})
}
