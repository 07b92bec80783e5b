package operatorapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/edge"
)

// TestOnboardingRefusesAdminEmailsThePoolRefuses: POST /v1/tenants refuses
// an admin email the user pool would refuse (or over 128 characters) with
// 400, instead of accepting it and failing onboarding later; nothing is
// recorded.
func TestOnboardingRefusesAdminEmailsThePoolRefuses(t *testing.T) {
	s := newSuite(t)
	h := s.tenants(t)
	long := strings.Repeat("a", 60) + "@" + strings.Repeat("b", 58) + ".acme.test" // 129
	for _, email := range []string{"-a@acme.test", "a@acme", "a@b.c", long} {
		ev := operatorRequest(t, "POST", "/v1/tenants", nil, `{"name":"Refused","tier":"basic","adminEmail":"`+email+`"}`, "operators")
		ev.Headers["Idempotency-Key"] = "refused-" + email[:5]
		if r := doTenants(t, h, ev); r.Status != http.StatusBadRequest || r.Code != edge.CodeValidation {
			t.Errorf("adminEmail %q = %+v, want 400 %s", email, r, edge.CodeValidation)
		}
	}
	listEv := operatorRequest(t, "GET", "/v1/tenants", nil, "", "operators")
	listEv.QueryStringParameters = map[string]string{"limit": "100"}
	list := doTenants(t, h, listEv)
	for _, it := range list.Body["items"].([]any) {
		if it.(map[string]any)["name"] == "Refused" {
			t.Fatalf("a refused tenant was recorded: %v", it)
		}
	}
}
