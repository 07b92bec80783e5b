package tenantapi_test

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tessera-saas/tessera/internal/local/testenv/apievent"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/edge"
)

// TestDirectInvokeWithForgedClaimsIs401 invokes the handler as a principal
// allowed to invoke the function directly could: with an event whose
// authorizer context names another tenant, and no token, a token signed by
// another key, or garbage. The handler verifies the Authorization header's
// token itself, so each is 401 and nothing is written.
func TestDirectInvokeWithForgedClaimsIs401(t *testing.T) {
	s := newSuite(t)
	victim := fixture.NewTenant(t, s.e, "victim")
	attacker := fixture.NewTenant(t, s.e, "attacker")
	now := time.Now()
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"sub": "11111111-2222-3333-4444-555555555555", "iss": "https://cognito-idp.us-east-1.amazonaws.com/" + s.e.Settings.UserPoolID,
		"aud": s.e.Settings.AppClientID, "token_use": "id", "custom:tenantId": victim.Record.TenantID, "custom:role": "admin",
		"iat": now.Unix(), "auth_time": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	tok.Header["kid"] = "dummy" // moto's kid: only the signature is wrong
	otherSigned, err := tok.SignedString(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"name":"Forged","sku":"FORGED-1","price":{"amount":1,"currency":"EUR"}}`
	for _, tc := range []struct{ name, authorization string }{
		{"no token", ""},
		{"token signed by another key", "Bearer " + otherSigned},
		{"garbage token", "Bearer not.a.jwt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := request(t, victim.Record.TenantID, "POST", "/v1/products", nil, body)
			apievent.SetAuthorization(&ev, tc.authorization)
			r := s.do(t, ev)
			if r.Status != http.StatusUnauthorized || r.Code != edge.CodeUnauthenticated {
				t.Fatalf("got %d %q %v, want 401 %s", r.Status, r.Code, r.Body, edge.CodeUnauthenticated)
			}
		})
	}
	// A real token of the attacker's tenant with claims naming the victim:
	// the token decides, so the product lands in the attacker's tenant.
	ev := request(t, victim.Record.TenantID, "POST", "/v1/products", nil, body)
	apievent.SetAuthorization(&ev, "Bearer "+attacker.Token)
	if r := s.do(t, ev); r.Status != http.StatusCreated {
		t.Fatalf("attacker's own token: %d %v, want 201 in the attacker's tenant", r.Status, r.Body)
	}
	if n := s.items(t, victim.Record.TenantID); n != 0 {
		t.Fatalf("forged claims wrote %d items into the victim's tenant", n)
	}
	if n := s.items(t, attacker.Record.TenantID); n != 3 { // the product and its sku's two reservations (exact, lower case)
		t.Fatalf("attacker's tenant holds %d items, want 3", n)
	}
}
