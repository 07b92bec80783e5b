package route_test

import (
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/route"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		method, path string
		wantName     string
		wantID       string
		pathFound    bool
	}{
		{"GET", "/v1/products", "ListProducts", "", true},
		{"POST", "/v1/products/", "CreateProduct", "", true},
		{"GET", "/v1/products/01ABC", "GetProduct", "01ABC", true},
		{"DELETE", "/v1/orders/x", "DeleteOrder", "x", true},
		{"PATCH", "/v1/orders/x", "", "", true},
		{"POST", "/v1/exports", "CreateExport", "", true},
		{"GET", "/v1/exports/01ABC", "GetExport", "01ABC", true},
		{"GET", "/v1/exports", "", "", true},
		{"DELETE", "/v1/exports/x", "", "", true},
		{"GET", "/v1/products/a/b", "", "", false},
		{"GET", "/v2/products", "", "", false},
		{"GET", "/", "", "", false},
	}
	for _, tc := range tests {
		r, params, found, ok := route.Match(tc.method, tc.path)
		if found != tc.pathFound || ok != (tc.wantName != "") || r.Name != tc.wantName || params["id"] != tc.wantID {
			t.Errorf("Match(%s %s) = %q %v found=%v ok=%v", tc.method, tc.path, r.Name, params, found, ok)
		}
	}
}

func TestTableIsConsistent(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range route.All {
		if seen[r.Key()] || seen[r.Name] {
			t.Errorf("duplicate route %s / %s", r.Key(), r.Name)
		}
		seen[r.Key()], seen[r.Name] = true, true
		if r.Audience == "" || r.Function == "" {
			t.Errorf("route %s lacks audience or function", r.Name)
		}
	}
}
