package tenantapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/features"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// feature finds a flag in the answer of GET /v1/features.
func feature(t *testing.T, r result, name string) map[string]any {
	t.Helper()
	items, _ := r.Body["items"].([]any)
	for _, it := range items {
		if f := it.(map[string]any); f["name"] == name {
			return f
		}
	}
	t.Fatalf("no flag %s in %+v", name, r.Body)
	return nil
}

// TestFeaturesShowTheTenantsOwnOverride: GET /v1/features answers every
// flag for the caller's tenant: acme's override, and for globex (the same
// tier) the tier's value.
func TestFeaturesShowTheTenantsOwnOverride(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	globex := fixture.NewTenant(t, s.e, "globex").Record
	fixture.Override(t, s.e, acme.TenantID, features.Exports, true)
	fixture.Override(t, s.e, acme.TenantID, features.MaxProducts, 3)
	basic, _ := plan.For(catalog.TierBasic)

	a := s.do(t, asMember(request(t, acme.TenantID, "GET", "/v1/features", nil, "")))
	if a.Status != 200 {
		t.Fatalf("acme features = %+v", a)
	}
	if f := feature(t, a, features.Exports); f["value"] != true || f["reason"] != "TARGETING_MATCH" || f["variant"] != features.VariantOverride || f["kind"] != "boolean" {
		t.Errorf("acme exports = %+v", f)
	}
	if f := feature(t, a, features.MaxProducts); f["value"] != float64(3) || f["variant"] != features.VariantOverride {
		t.Errorf("acme max-products = %+v", f)
	}
	if f := feature(t, a, features.MaxUsers); f["value"] != float64(basic.MaxUsers) || f["variant"] != "tier:basic" {
		t.Errorf("acme max-users = %+v", f)
	}
	g := s.do(t, request(t, globex.TenantID, "GET", "/v1/features", nil, ""))
	if f := feature(t, g, features.Exports); f["value"] != false || f["reason"] != "TARGETING_MATCH" || f["variant"] != "tier:basic" {
		t.Errorf("globex exports = %+v (acme's override leaked?)", f)
	}
	if f := feature(t, g, features.MaxProducts); f["value"] != float64(basic.MaxProducts) {
		t.Errorf("globex max-products = %+v", f)
	}
}

// TestBasicTenantMayNotExport: POST /v1/exports of a basic tenant is 403
// not_entitled and queues nothing; with the operator's override it may.
func TestBasicTenantMayNotExport(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	before := s.queued(t)
	if r := s.do(t, request(t, acme.TenantID, "POST", "/v1/exports", nil, "")); r.Status != http.StatusForbidden || r.Code != edge.CodeNotEntitled {
		t.Fatalf("basic export = %+v", r)
	}
	if n := s.exports(t, acme.TenantID); n != 0 {
		t.Fatalf("a refused export wrote %d export records", n)
	}
	if after := s.queued(t); after != before {
		t.Fatalf("a refused export queued a message (%d -> %d)", before, after)
	}
	fixture.Override(t, s.e, acme.TenantID, features.Exports, true)
	if r := s.do(t, request(t, acme.TenantID, "POST", "/v1/exports", nil, "")); r.Status != http.StatusAccepted {
		t.Fatalf("entitled export = %+v", r)
	}
	if n := s.exports(t, acme.TenantID); n != 1 {
		t.Fatalf("%d export records, want 1", n)
	}
}

// TestProductsAreCappedByPlan: at the tenant's max-products (lowered by an
// override) a create is 409 limit_reached and writes no product and no SKU
// reservation; a delete makes room again; another tenant is not capped.
func TestProductsAreCappedByPlan(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	globex := fixture.NewTenant(t, s.e, "globex").Record
	fixture.Override(t, s.e, acme.TenantID, features.MaxProducts, 2)
	product := func(sku string) string {
		return `{"name":"Widget","sku":"` + sku + `","price":{"amount":5,"currency":"EUR"}}`
	}
	var first string
	for i := range 2 {
		r := s.do(t, request(t, acme.TenantID, "POST", "/v1/products", nil, product(fmt.Sprintf("W-%d", i))))
		if r.Status != http.StatusCreated {
			t.Fatalf("product %d = %+v", i, r)
		}
		if i == 0 {
			first = r.Body["id"].(string)
		}
	}
	r := s.do(t, request(t, acme.TenantID, "POST", "/v1/products", nil, product("W-OVER")))
	if r.Status != http.StatusConflict || r.Code != edge.CodeLimitReached {
		t.Fatalf("product over the cap = %+v", r)
	}
	// Each product holds two reservations (its SKU and its SKU key).
	if n, m := len(s.partition(t, acme.TenantID, "PRODUCT")), len(s.partition(t, acme.TenantID, "SKU")); n != 2 || m != 4 {
		t.Fatalf("%d products and %d SKU reservations after a refused create, want 2 and 4", n, m)
	}
	// Bad input is still 400 at the cap (validated first).
	if r := s.do(t, request(t, acme.TenantID, "POST", "/v1/products", nil, `{"name":"x"}`)); r.Status != http.StatusBadRequest {
		t.Fatalf("bad product at the cap = %+v", r)
	}
	if r := s.do(t, request(t, acme.TenantID, "DELETE", "/v1/products/{id}", map[string]string{"id": first}, "")); r.Status != http.StatusNoContent {
		t.Fatalf("delete = %+v", r)
	}
	if r := s.do(t, request(t, acme.TenantID, "POST", "/v1/products", nil, product("W-OVER"))); r.Status != http.StatusCreated {
		t.Fatalf("create after a delete = %+v", r)
	}
	for i := range 3 {
		if r := s.do(t, request(t, globex.TenantID, "POST", "/v1/products", nil, product(fmt.Sprintf("G-%d", i)))); r.Status != http.StatusCreated {
			t.Fatalf("globex product %d = %+v", i, r)
		}
	}
}

// TestUsersAreCappedByPlan: at the tenant's max-users a new invitation is
// 409 limit_reached: no Cognito user, no user record, no invitation
// counted.
func TestUsersAreCappedByPlan(t *testing.T) {
	s := newSuite(t)
	ctx := context.Background()
	acme := fixture.NewTenant(t, s.e, "acme").Record
	run := tenant.NewID()[2:10]
	first := "cap-" + run + "-0@acme.test"
	if r := s.do(t, invite(t, acme.TenantID, first, "member")); r.Status != http.StatusAccepted {
		t.Fatalf("first invite = %+v", r)
	}
	users := len(s.partition(t, acme.TenantID, "USER"))
	fixture.Override(t, s.e, acme.TenantID, features.MaxUsers, users)
	invites := s.partition(t, acme.TenantID, "INVITES")
	over := "cap-" + run + "-over@acme.test"
	r := s.do(t, invite(t, acme.TenantID, over, "member"))
	if r.Status != http.StatusConflict || r.Code != edge.CodeLimitReached {
		t.Fatalf("invite over the cap = %+v", r)
	}
	if _, err := s.dir().Get(ctx, over); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("the refused invitation created a user (%v)", err)
	}
	if n := len(s.partition(t, acme.TenantID, "USER")); n != users {
		t.Fatalf("%d user records, want %d", n, users)
	}
	if got := s.partition(t, acme.TenantID, "INVITES"); invitesCounted(got) != invitesCounted(invites) {
		t.Fatalf("the refused invitation was counted: %d, was %d", invitesCounted(got), invitesCounted(invites))
	}
	// Re-inviting a user the tenant has is not a new user: 200.
	if r := s.do(t, invite(t, acme.TenantID, first, "member")); r.Status != http.StatusOK {
		t.Fatalf("re-invite at the cap = %+v", r)
	}
}

// invitesCounted sums the invitation counters of a tenant's counter items.
func invitesCounted(items []map[string]types.AttributeValue) int {
	n := 0
	for _, it := range items {
		if v, ok := it["invites"].(*types.AttributeValueMemberN); ok {
			i, _ := strconv.Atoi(v.Value)
			n += i
		}
	}
	return n
}
