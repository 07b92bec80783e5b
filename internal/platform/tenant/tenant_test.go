package tenant_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

func loadEvent(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
}

func TestFromRESTRequestReplaysSample(t *testing.T) {
	var ev events.APIGatewayProxyRequest
	loadEvent(t, "api-rest-create-product.json", &ev)
	got, err := tenant.FromRESTRequest(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := tenant.Tenant{ID: "t-01jcz8w3t1k5q7r9s2v4x6y8z0", UserID: "8f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b", Email: "admin@acme.test", Role: tenant.RoleAdmin}
	if got.ID != want.ID || got.UserID != want.UserID || got.Email != want.Email || got.Role != want.Role {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestFromHTTPRequestReplaysSample(t *testing.T) {
	var ev events.APIGatewayV2HTTPRequest
	loadEvent(t, "api-http-list-products.json", &ev)
	got, err := tenant.FromHTTPRequest(ev)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "t-01jcz8w3t1k5q7r9s2v4x6y8z0" || got.Role != tenant.RoleMember || !got.InGroup("readers") {
		t.Fatalf("got %+v", got)
	}
}

func TestMissingClaimIsUnauthenticated(t *testing.T) {
	var ev events.APIGatewayProxyRequest
	loadEvent(t, "api-rest-no-tenant-claim.json", &ev)
	if _, err := tenant.FromRESTRequest(ev); !errors.Is(err, tenant.ErrUnauthenticated) {
		t.Fatalf("err = %v, want ErrUnauthenticated", err)
	}
	if _, err := tenant.FromRESTRequest(events.APIGatewayProxyRequest{}); !errors.Is(err, tenant.ErrUnauthenticated) {
		t.Fatalf("no authorizer: err = %v", err)
	}
	if _, err := tenant.FromHTTPRequest(events.APIGatewayV2HTTPRequest{}); !errors.Is(err, tenant.ErrUnauthenticated) {
		t.Fatalf("no jwt authorizer: err = %v", err)
	}
}

func TestFromClaims(t *testing.T) {
	base := func(id string) map[string]string {
		return map[string]string{"sub": "u1", "custom:tenantId": id, "custom:role": "admin"}
	}
	tests := []struct {
		name   string
		claims map[string]string
		ok     bool
		role   tenant.Role
	}{
		{"valid", base("t-abc"), true, tenant.RoleAdmin},
		{"empty tenant", base(""), false, ""},
		{"hash in tenant", base("t-a#b"), false, ""},
		{"star in tenant", base("t-*"), false, ""},
		{"question mark", base("t-?"), false, ""},
		{"upper case", base("T-ABC"), false, ""},
		{"one char", base("a"), false, ""},
		{"too long", base("t-" + string(make([]byte, 70))), false, ""},
		{"nul byte", base("t-a\x00"), false, ""},
		{"leading hyphen", base("-abc"), false, ""},
		{"no sub", map[string]string{"custom:tenantId": "t-abc"}, false, ""},
		{"unknown role is member", map[string]string{"sub": "u", "custom:tenantId": "t-abc", "custom:role": "owner"}, true, tenant.RoleMember},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tenant.FromClaims(tc.claims)
			if !tc.ok {
				if !errors.Is(err, tenant.ErrUnauthenticated) {
					t.Fatalf("err = %v, want ErrUnauthenticated", err)
				}
				return
			}
			if err != nil || got.Role != tc.role {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}

func TestNewIDIsValid(t *testing.T) {
	a, b := tenant.NewID(), tenant.NewID()
	if !tenant.ValidID(a) || a == b {
		t.Fatalf("NewID gave %q and %q", a, b)
	}
}
