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
		{"POST", "/v1/tenants/t-1/backups", "BackupTenant", "t-1", true},
		{"GET", "/v1/tenants/t-1/backups", "ListTenantBackups", "t-1", true},
		{"POST", "/v1/tenants/t-1/restores", "RestoreTenant", "t-1", true},
		{"GET", "/v1/tenants/t-1/restores", "", "", true},
		{"GET", "/v1/tenants/t-1/jobs", "ListTenantJobs", "t-1", true},
		{"GET", "/v1/tenants/t-1/jobs/j-1", "GetTenantJob", "t-1", true},
		{"DELETE", "/v1/tenants/t-1/jobs/j-1", "", "", true},
		{"GET", "/v1/tenants/t-1/jobs/j-1/x", "", "", false},
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

// TestBackupRoutes: the backup, restore and job routes are the operator's,
// served by the tenants function, forwarded by the cell router, and a job's
// path names both ids.
func TestBackupRoutes(t *testing.T) {
	for _, name := range []string{"BackupTenant", "ListTenantBackups", "RestoreTenant", "ListTenantJobs", "GetTenantJob"} {
		var found bool
		for _, r := range route.All {
			if r.Name != name {
				continue
			}
			found = true
			if r.Audience != route.Operator || r.Function != route.FunctionTenants {
				t.Errorf("%s: audience %s, function %s; want operator, tenants", name, r.Audience, r.Function)
			}
			if rr, ok := route.ByKeyIn(route.Router, r.Key()); !ok || rr.Name != name || rr.Function != route.FunctionRouter {
				t.Errorf("%s: the cell router has %+v %v", name, rr, ok)
			}
		}
		if !found {
			t.Errorf("no route %s", name)
		}
	}
	_, params, _, ok := route.Match("GET", "/v1/tenants/t-acme/jobs/j-01")
	if !ok || params["id"] != "t-acme" || params["jobId"] != "j-01" {
		t.Errorf("GET a job: params %v ok=%v", params, ok)
	}
}
