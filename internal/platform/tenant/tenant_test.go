package tenant_test

import (
	"errors"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

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
