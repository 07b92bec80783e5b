package route_test

import (
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/route"
)

// TestOpenAPIRouteIsPublic: the API's document is served without a token,
// by the api function, and it is the only public route.
func TestOpenAPIRouteIsPublic(t *testing.T) {
	r, _, _, ok := route.Match("GET", "/v1/openapi.json")
	if !ok || r.Name != "GetOpenAPI" || r.Audience != route.Public || r.Function != route.FunctionAPI {
		t.Fatalf("GET /v1/openapi.json = %+v ok=%v, want GetOpenAPI, public, served by the api function", r, ok)
	}
	for _, r := range route.All {
		if r.Audience == route.Public && r.Name != "GetOpenAPI" {
			t.Errorf("route %s is public: only the API document is", r.Name)
		}
	}
	if got, ok := route.ByKey("GET /v1/openapi.json"); !ok || got.Name != "GetOpenAPI" {
		t.Errorf("ByKey = %+v %v", got, ok)
	}
	if _, ok := route.ByKey("GET /v1/nothing"); ok {
		t.Error("ByKey found a route that is not in the table")
	}
}
