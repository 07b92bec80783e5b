package edge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

func endpoints(fn route.Function) map[string]edge.Endpoint[string] {
	eps := map[string]edge.Endpoint[string]{}
	for _, r := range route.ForFunction(fn) {
		name := r.Name
		eps[name] = func(context.Context, string, events.APIGatewayProxyRequest) (int, any, error) {
			return http.StatusOK, name, nil
		}
	}
	return eps
}

func TestRoutesBindEveryRouteOfTheFunction(t *testing.T) {
	for _, fn := range []route.Function{route.FunctionAPI, route.FunctionTenants} {
		rs := edge.NewRoutes(fn, endpoints(fn))
		for _, r := range route.ForFunction(fn) {
			ep, err := rs.Find(edge.RouteKey(events.APIGatewayProxyRequest{HTTPMethod: r.Method, Resource: r.Path}))
			if err != nil {
				t.Fatalf("%s %s: %v", r.Method, r.Path, err)
			}
			if _, got, _ := ep(context.Background(), "", events.APIGatewayProxyRequest{}); got != r.Name {
				t.Errorf("%s %s served by %v, want %s", r.Method, r.Path, got, r.Name)
			}
		}
	}
	rs := edge.NewRoutes(route.FunctionAPI, endpoints(route.FunctionAPI))
	_, err := rs.Find(edge.RouteKey(events.APIGatewayProxyRequest{HTTPMethod: "GET", Resource: "/v1/tenants"}))
	var e *edge.Error
	if !errors.As(err, &e) || e.Status != http.StatusNotFound || e.Code != edge.CodeRouteNotFound {
		t.Fatalf("operator route on the api function: %v, want 404 route_not_found", err)
	}
}

func TestRoutesPanicOnARouteWithoutEndpoint(t *testing.T) {
	eps := endpoints(route.FunctionTenants)
	delete(eps, "GetTenant")
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "GetTenant") {
			t.Fatalf("recovered %v, want a panic naming GetTenant", r)
		}
	}()
	edge.NewRoutes(route.FunctionTenants, eps)
}

// TestFinishMapsErrorsInOnePlace: domain errors become their status and
// stable code; anything else is a 500 whose body says nothing of the cause,
// which is logged instead.
func TestFinishMapsErrorsInOnePlace(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   string
		logged bool
	}{
		{"client error as is", edge.NewError(http.StatusBadRequest, edge.CodeInvalidID, "bad id"), 400, edge.CodeInvalidID, false},
		{"wrapped not found", fmt.Errorf("get product x: %w", store.ErrNotFound), 404, edge.CodeNotFound, false},
		{"version conflict", fmt.Errorf("update: %w", store.ErrVersionConflict), 409, edge.CodeVersionConflict, false},
		{"no tenant identity", tenant.ErrUnauthenticated, 401, edge.CodeUnauthenticated, false},
		{"unknown tenant", catalog.ErrNotFound, 403, edge.CodeTenantUnknown, false},
		{"suspended tenant", catalog.ErrSuspended, 403, edge.CodeTenantSuspended, false},
		{"unexpected", errors.New("dial tcp 10.1.2.3:443: secret-host unreachable"), 500, edge.CodeInternal, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			resp := edge.Finish(slog.New(slog.NewJSONHandler(&logs, nil)), time.Now(), 0, nil, tc.err)
			var body edge.ErrorBody
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Fatalf("body %q: %v", resp.Body, err)
			}
			if resp.StatusCode != tc.status || body.Error.Code != tc.code || resp.Headers["Content-Type"] != "application/json" {
				t.Fatalf("got %d %q (%v), want %d %q", resp.StatusCode, body.Error.Code, resp.Headers, tc.status, tc.code)
			}
			if strings.Contains(resp.Body, "secret-host") {
				t.Fatalf("internal cause reached the client: %s", resp.Body)
			}
			if got := strings.Contains(logs.String(), `"msg":"request failed"`); got != tc.logged {
				t.Fatalf("logged as a failure = %v, want %v: %s", got, tc.logged, logs.String())
			}
		})
	}
}
