package operatorapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
	"github.com/tessera-saas/tessera/internal/wire"
)

// The cell router chooses a new tenant's id before it places it in a cell;
// the cell records its own id in the placement.
func TestCreateTakesTheRoutersTenantIDAndRecordsTheCell(t *testing.T) {
	s := newSuite(t)
	st := s.e.Settings
	st.Cell = "c7"
	h := wire.NewTenants(s.e.Config, st, slogDiscard())
	id := tenant.NewID()
	body := fmt.Sprintf(`{"name":"Routed","tier":"basic","adminEmail":"a@routed.test","tenantId":%q}`, id)
	res := doTenants(t, h, operatorRequest(t, "POST", "/v1/tenants", nil, body, "operators"))
	if res.Status != http.StatusAccepted || res.Body["tenantId"] != id {
		t.Fatalf("create = %d %+v, want 202 for %s", res.Status, res.Body, id)
	}
	if got := res.Body["placement"].(map[string]any)["cell"]; got != "c7" {
		t.Errorf("placement.cell = %v, want c7", got)
	}
	again := doTenants(t, h, operatorRequest(t, "POST", "/v1/tenants", nil, body, "operators"))
	if again.Status != http.StatusConflict || again.Code != edge.CodeTenantExists {
		t.Errorf("create of a taken id = %d %s, want 409 tenant_exists", again.Status, again.Code)
	}
	for _, bad := range []string{"acme", "t-mine", "T-01ARZ3NDEKTSV4RRFFQ69G5FAV", "t-01arz3ndektsv4rrffq69g5fa", "t-01arz3ndektsv4rrffq69g5fai", "has space"} {
		body := fmt.Sprintf(`{"name":"Bad","tier":"basic","adminEmail":"a@bad.test","tenantId":%q}`, bad)
		res := doTenants(t, h, operatorRequest(t, "POST", "/v1/tenants", nil, body, "operators"))
		if res.Status != http.StatusBadRequest || res.Code != edge.CodeValidation {
			t.Errorf("tenantId %q = %d %s, want 400 validation_failed", bad, res.Status, res.Code)
		}
		get := doTenants(t, h, operatorRequest(t, "GET", "/v1/tenants/{id}", map[string]string{"id": bad}, "", "operators"))
		if get.Status == http.StatusOK {
			t.Errorf("tenantId %q was stored", bad)
		}
	}
}
