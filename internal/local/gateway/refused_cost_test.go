package gateway_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/local/gateway"
	"github.com/tessera-saas/tessera/internal/local/throttle"
	"github.com/tessera-saas/tessera/internal/platform/route"
)

// A tenant over its rate limit is refused as cheaply as API Gateway refuses
// it: with the authorizer's cached answer for its header, the gateway looks
// the answer up and throttles, building no authorizer request. (The noisy
// neighbour benchmark, tessera-bench (f), counts what refusing a flood
// costs the tenants that share the process.)

// allowAll is an authorizer stand-in that allows every request of one basic
// tenant (what the tenant authorizer answers for a valid token).
func allowAll(_ context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "u",
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{
			{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{"arn:aws:execute-api:*"}}}},
		UsageIdentifierKey: "key-flooder", Context: map[string]any{"tier": "basic", "tenantId": "t-flooder"}}, nil
}

func refusingGateway(tb testing.TB) (*gateway.Gateway, func() *http.Request) {
	frozen := time.Now()
	served := func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: "{}"}, nil
	}
	gw := gateway.New(tokenIsTenant{}, map[route.Function]gateway.Handler{route.FunctionAPI: served},
		slog.New(slog.NewJSONHandler(io.Discard, nil)), gateway.WithAuthorizer(allowAll),
		gateway.WithLimits(throttle.New(throttle.WithClock(func() time.Time { return frozen }))),
		gateway.WithAuthorizerCache(time.Hour, 100))
	req := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/v1/orders/01JORDER", nil)
		r.Header.Set("Authorization", "Bearer flooder-token")
		r.Header.Set("User-Agent", "Go-http-client/1.1")
		r.Header.Set("Accept-Encoding", "gzip")
		return r
	}
	for i := 0; ; i++ { // drain the bucket: the clock stands still, nothing refills
		w := httptest.NewRecorder()
		gw.ServeHTTP(w, req())
		if w.Code == http.StatusTooManyRequests {
			break
		}
		if w.Code != http.StatusOK || i > 1000 {
			tb.Fatalf("request %d: %d %s", i, w.Code, w.Body)
		}
	}
	return gw, req
}

func TestRefusedRequestBuildsNoAuthorizerRequest(t *testing.T) {
	gw, req := refusingGateway(t)
	reqs := make([]*http.Request, 0, 110)
	recs := make([]*httptest.ResponseRecorder, 0, 110)
	for range 110 {
		reqs, recs = append(reqs, req()), append(recs, httptest.NewRecorder())
	}
	i := 0
	allocs := testing.AllocsPerRun(100, func() {
		gw.ServeHTTP(recs[i], reqs[i])
		if recs[i].Code != http.StatusTooManyRequests {
			t.Fatalf("over the limit: %d, want 429", recs[i].Code)
		}
		i++
	})
	// The route match, the request id, the method ARN, the 429's headers
	// and JSON body: 23. Not the authorizer request (its six maps and the
	// copies of the headers, 11 more) nor a loader for the cache.
	if allocs > 24 {
		t.Fatalf("refusing a request over the limit costs %.0f allocations, want at most 24", allocs)
	}
}

func BenchmarkRefusedRequest(b *testing.B) {
	gw, req := refusingGateway(b)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		r, w := req(), httptest.NewRecorder()
		b.StartTimer()
		gw.ServeHTTP(w, r)
	}
}
