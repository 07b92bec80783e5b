package operatorapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/audit"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/features"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// flagOf finds a flag in the answer of GET /v1/flags.
func flagOf(t *testing.T, r result, name string) map[string]any {
	t.Helper()
	items, _ := r.Body["items"].([]any)
	for _, it := range items {
		if f := it.(map[string]any); f["name"] == name {
			return f
		}
	}
	return nil
}

// TestOperatorsManageFlags: operators list the definitions (the built-ins
// at version 0), define a flag with versions (409 on a stale one), and set
// and clear a tenant's override, audited, which the tenant's GET
// /v1/features shows; bad names, kinds and values are 400 and write
// nothing; tenant users may not.
func TestOperatorsManageFlags(t *testing.T) {
	s := newSuite(t)
	h := s.tenants(t)
	ctx := context.Background()
	cat := store.NewCatalog(store.NewClient(s.e.Config), s.e.Settings.CatalogTable)
	op := func(method, resource string, params map[string]string, body string) result {
		return doTenants(t, h, operatorRequest(t, method, resource, params, body, "operators"))
	}

	started := time.Now().UTC()
	list := op("GET", "/v1/flags", nil, "")
	basic, _ := plan.For(catalog.TierBasic)
	if f := flagOf(t, list, features.MaxProducts); list.Status != 200 || f == nil || f["version"] != float64(0) ||
		f["tierDefaults"].(map[string]any)["basic"] != float64(basic.MaxProducts) {
		t.Fatalf("list = %+v", list)
	}

	// A new flag, rolled out to 25 %.
	name := "beta-" + fixture.NewTenant(t, s.e, "probe").Record.TenantID[2:12]
	def := `{"kind":"boolean","description":"the new editor","default":false,"tierDefaults":{"premium":true},"rollout":{"percent":25,"value":true},"version":0}`
	put := op("PUT", "/v1/flags/{name}", map[string]string{"name": name}, def)
	if put.Status != 200 || put.Body["version"] != float64(1) || put.Body["updatedBy"] == "" {
		t.Fatalf("put flag = %+v", put)
	}
	if r := op("PUT", "/v1/flags/{name}", map[string]string{"name": name}, def); r.Status != http.StatusConflict || r.Code != edge.CodeVersionConflict {
		t.Fatalf("stale put flag = %+v", r)
	}
	// The definition names no tenant: its entry is in the deployment's
	// trail, which operators read like a tenant's; the refused one left none.
	trailEv := operatorRequest(t, "GET", "/v1/tenants/{id}/audit", map[string]string{"id": audit.DeploymentTrail}, "", "operators")
	trailEv.QueryStringParameters = map[string]string{"from": started.Format(time.RFC3339Nano), "limit": "100"}
	trail := doTenants(t, h, trailEv)
	found := 0
	for _, it := range trail.Body["items"].([]any) {
		if e := it.(map[string]any); e["action"] == "PutFlag" && e["resource"] == "flags/"+name {
			found++
			if e["outcome"] != "200" || e["actorKind"] != "operator" || e["actor"] == "" {
				t.Errorf("PutFlag entry = %v", e)
			}
		}
	}
	if trail.Status != 200 || found != 1 {
		t.Fatalf("deployment trail has %d entries of PutFlag %s, want 1: %+v", found, name, trail)
	}
	if f := flagOf(t, op("GET", "/v1/flags", nil, ""), name); f == nil || f["version"] != float64(1) || f["rollout"].(map[string]any)["percent"] != float64(25) {
		t.Fatalf("listed flag = %+v", f)
	}
	for _, tc := range []struct {
		name, flag, body, code string
	}{
		{"bad name", "Bad_Name", def, edge.CodeValidation},
		{"bad kind", name + "-x", `{"kind":"float","default":1.5,"version":0}`, edge.CodeValidation},
		{"default of another kind", name + "-x", `{"kind":"integer","default":"ten","version":0}`, edge.CodeValidation},
		{"bad tier", name + "-x", `{"kind":"boolean","default":false,"tierDefaults":{"gold":true},"version":0}`, edge.CodeValidation},
		{"bad percent", name + "-x", `{"kind":"boolean","default":false,"rollout":{"percent":150,"value":true},"version":0}`, edge.CodeValidation},
		{"unknown field", name + "-x", `{"kind":"boolean","default":false,"enabled":true,"version":0}`, edge.CodeUnknownField},
		{"no version", name + "-x", `{"kind":"boolean","default":false}`, edge.CodeValidation},
	} {
		if r := op("PUT", "/v1/flags/{name}", map[string]string{"name": tc.flag}, tc.body); r.Status != http.StatusBadRequest || r.Code != tc.code {
			t.Errorf("%s: %d %q, want 400 %q", tc.name, r.Status, r.Code, tc.code)
		}
	}
	if f := flagOf(t, op("GET", "/v1/flags", nil, ""), name+"-x"); f != nil {
		t.Fatalf("a refused definition was stored: %+v", f)
	}

	// Overrides.
	acme := fixture.NewTenant(t, s.e, "acme").Record
	globex := fixture.NewTenant(t, s.e, "globex").Record
	override := func(id, flag, body string) result {
		return op("PUT", "/v1/tenants/{id}/flags/{name}", map[string]string{"id": id, "name": flag}, body)
	}
	r := override(acme.TenantID, features.MaxProducts, `{"value":7}`)
	if r.Status != 200 || r.Body["flagOverrides"].(map[string]any)[features.MaxProducts] != float64(7) {
		t.Fatalf("override = %+v", r)
	}
	if r := override(acme.TenantID, name, `{"value":true}`); r.Status != 200 || len(r.Body["flagOverrides"].(map[string]any)) != 2 {
		t.Fatalf("second override = %+v", r)
	}
	app := s.do(t, request(t, acme.TenantID, "GET", "/v1/features", nil, ""))
	var got map[string]any
	for _, it := range app.Body["items"].([]any) {
		if f := it.(map[string]any); f["name"] == features.MaxProducts {
			got = f
		}
	}
	if got["value"] != float64(7) || got["variant"] != features.VariantOverride {
		t.Fatalf("the tenant's features show %+v", got)
	}
	for _, tc := range []struct {
		name, id, flag, body string
		status               int
		code                 string
	}{
		{"value of another kind", acme.TenantID, features.MaxProducts, `{"value":"many"}`, 400, edge.CodeValidation},
		{"fraction", acme.TenantID, features.MaxProducts, `{"value":2.5}`, 400, edge.CodeValidation},
		{"boolean as string", acme.TenantID, features.Exports, `{"value":"true"}`, 400, edge.CodeValidation},
		{"unknown flag", acme.TenantID, "no-such-flag", `{"value":true}`, 400, edge.CodeUnknownFlag},
		{"no value", acme.TenantID, features.Exports, `{}`, 400, edge.CodeValidation},
		{"unknown field", acme.TenantID, features.Exports, `{"value":true,"tenantId":"x"}`, 400, edge.CodeUnknownField},
		{"unknown tenant", "t-does-not-exist", features.Exports, `{"value":true}`, 404, edge.CodeNotFound},
		{"bad tenant id", "T#1", features.Exports, `{"value":true}`, 400, edge.CodeInvalidID},
	} {
		if r := override(tc.id, tc.flag, tc.body); r.Status != tc.status || r.Code != tc.code {
			t.Errorf("%s: %d %q, want %d %q", tc.name, r.Status, r.Code, tc.status, tc.code)
		}
	}
	rec, err := cat.GetTenant(ctx, acme.TenantID)
	if err != nil || len(rec.FlagOverrides) != 2 || rec.FlagOverrides[features.MaxProducts] != float64(7) {
		t.Fatalf("acme's overrides after refused changes = %+v, %v", rec.FlagOverrides, err)
	}
	// Null clears.
	if r := override(acme.TenantID, features.MaxProducts, `{"value":null}`); r.Status != 200 || r.Body["flagOverrides"].(map[string]any)[features.MaxProducts] != nil {
		t.Fatalf("clear = %+v", r)
	}
	if rec, _ := cat.GetTenant(ctx, globex.TenantID); len(rec.FlagOverrides) != 0 {
		t.Fatalf("globex got overrides %+v", rec.FlagOverrides)
	}
	// Audited, with the operator as the actor.
	audit, err := cat.AuditTrail(ctx, acme.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range audit {
		if a.Action == "PutTenantFlag" && strings.HasPrefix(a.Detail, "flag-override") {
			n++
			if a.Actor == "" || a.Actor == "test" {
				t.Errorf("audit entry %+v has no operator actor", a)
			}
		}
	}
	if n != 3 {
		t.Fatalf("%d flag-override audit entries, want 3: %+v", n, audit)
	}
	// A tenant admin may not.
	if r := doTenants(t, h, request(t, acme.TenantID, "PUT", "/v1/tenants/{id}/flags/{name}",
		map[string]string{"id": acme.TenantID, "name": features.Exports}, `{"value":true}`)); r.Status != http.StatusForbidden {
		t.Fatalf("tenant admin overrides = %+v", r)
	}
	if r := doTenants(t, h, operatorRequest(t, "GET", "/v1/flags", nil, "", "admins")); r.Status != http.StatusForbidden {
		t.Fatalf("non-operator lists flags = %+v", r)
	}
}
