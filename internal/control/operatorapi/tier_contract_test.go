package operatorapi_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/local/emulator"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/edge"
)

// TestTierChangeTakesNoVersionAsTheREADMESays: PUT /v1/tenants/{id}/tier
// is not a versioned replace. Its body is {"tier"} only, a version is
// refused as unknown_field, and the README's API contract says so instead
// of claiming that every PUT needs the version.
func TestTierChangeTakesNoVersionAsTheREADMESays(t *testing.T) {
	root, err := emulator.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(string(readme)), " ") // reflowing the README keeps the test green
	if strings.Contains(doc, "`PUT` replaces the resource and needs the `version`") {
		t.Error("README says every PUT needs the version; PUT /v1/tenants/{id}/tier takes none")
	}
	for _, want := range []string{
		"`PUT /v1/products/{id}` and `PUT /v1/orders/{id}` replace the resource and need the `version`",
		"`PUT /v1/tenants/{id}/tier` is not a replace",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("README lacks %q", want)
		}
	}

	s := newSuite(t)
	h := s.tenants(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	byID := map[string]string{"id": acme.TenantID}
	withVersion := doTenants(t, h, operatorRequest(t, "PUT", "/v1/tenants/{id}/tier", byID, `{"tier":"standard","version":1}`, "operators"))
	if withVersion.Status != http.StatusBadRequest || withVersion.Code != edge.CodeUnknownField {
		t.Fatalf("tier change with a version = %+v, want 400 unknown_field (as the README says)", withVersion)
	}
	same := doTenants(t, h, operatorRequest(t, "PUT", "/v1/tenants/{id}/tier", byID, `{"tier":"`+string(acme.Tier)+`"}`, "operators"))
	if same.Status != http.StatusOK || same.Body["tier"] != string(acme.Tier) {
		t.Fatalf("tier change to the current tier = %+v, want 200 (a no-op)", same)
	}
}
