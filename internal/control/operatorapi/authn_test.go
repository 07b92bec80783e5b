package operatorapi_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tessera-saas/tessera/internal/local/seed"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/apievent"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// realOperator makes a user of the operators group, signs it in, and
// returns its ID token and sub.
func realOperator(t *testing.T, e *testenv.Env) (token, sub string) {
	t.Helper()
	ctx := context.Background()
	idp := cip.NewFromConfig(e.Config)
	email := fmt.Sprintf("op-%d@operators.test", time.Now().UnixNano())
	if err := seed.EnsureOperator(ctx, idp, e.Settings.UserPoolID, email, fixture.Password); err != nil {
		t.Fatal(err)
	}
	u, err := idp.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: &e.Settings.UserPoolID, Username: &email})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range u.UserAttributes {
		if aws.ToString(a.Name) == "sub" {
			sub = aws.ToString(a.Value)
		}
	}
	if sub == "" {
		t.Fatal("operator has no sub")
	}
	return fixture.Login(t, e, email), sub
}

// TestOperatorAPIRefusesForgedClaims invokes the operator API directly with
// claims of the operators group but no token, a token signed by another key,
// or a real token of a tenant admin: 401, 401 and 403, and nothing changes.
func TestOperatorAPIRefusesForgedClaims(t *testing.T) {
	s := newSuite(t)
	h := s.tenants(t)
	acme := fixture.NewTenant(t, s.e, "acme")
	now := time.Now()
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"sub": "11111111-2222-3333-4444-555555555555", "iss": "https://cognito-idp.us-east-1.amazonaws.com/" + s.e.Settings.UserPoolID,
		"aud": s.e.Settings.AppClientID, "token_use": "id", "cognito:groups": []string{"operators"},
		"iat": now.Unix(), "auth_time": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	tok.Header["kid"] = "dummy"
	otherSigned, err := tok.SignedString(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("Forged-%d", now.UnixNano())
	for _, tc := range []struct {
		name, authorization string
		status              int
		code                string
	}{
		{"no token", "", 401, edge.CodeUnauthenticated},
		{"token signed by another key", "Bearer " + otherSigned, 401, edge.CodeUnauthenticated},
		{"garbage token", "Bearer x.y.z", 401, edge.CodeUnauthenticated},
		{"real token of a tenant admin", "Bearer " + acme.Token, 403, edge.CodeForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			create := operatorRequest(t, "POST", "/v1/tenants", nil, `{"name":"`+name+`","tier":"basic","adminEmail":"f@forged.test"}`, "operators")
			apievent.SetAuthorization(&create, tc.authorization)
			if r := doTenants(t, h, create); r.Status != tc.status || r.Code != tc.code {
				t.Fatalf("create: %d %q %v, want %d %s", r.Status, r.Code, r.Body, tc.status, tc.code)
			}
			suspend := operatorRequest(t, "POST", "/v1/tenants/{id}/suspend", map[string]string{"id": acme.Record.TenantID}, "", "operators")
			apievent.SetAuthorization(&suspend, tc.authorization)
			if r := doTenants(t, h, suspend); r.Status != tc.status || r.Code != tc.code {
				t.Fatalf("suspend: %d %q %v, want %d %s", r.Status, r.Code, r.Body, tc.status, tc.code)
			}
		})
	}
	cat := store.NewCatalog(store.NewClient(s.e.Config), s.e.Settings.CatalogTable)
	rec, err := cat.GetTenant(context.Background(), acme.Record.TenantID)
	if err != nil || rec.Status != catalog.StatusActive {
		t.Fatalf("acme after forged suspends: %+v, %v", rec, err)
	}
	if audit, err := cat.AuditTrail(context.Background(), acme.Record.TenantID); err != nil || len(audit) != 0 {
		t.Fatalf("audit after forged requests = %+v, %v", audit, err)
	}
	req := store.PageRequest{Limit: 100}
	for {
		page, err := cat.ListTenants(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Items {
			if r.Name == name {
				t.Fatalf("a forged request created tenant %s", r.TenantID)
			}
		}
		if page.Next == "" {
			break
		}
		req.Cursor = page.Next
	}
}

// TestAuditRecordsTheOperatorsSub: an operator's change is audited under the
// operator's verified sub, never the (changeable) email claim.
func TestAuditRecordsTheOperatorsSub(t *testing.T) {
	s := newSuite(t)
	h := s.tenants(t)
	token, sub := realOperator(t, s.e)
	acme := fixture.NewTenant(t, s.e, "acme")
	ev := operatorRequest(t, "POST", "/v1/tenants/{id}/suspend", map[string]string{"id": acme.Record.TenantID}, `{"reason":"audit test"}`, "operators")
	apievent.SetAuthorization(&ev, "Bearer "+token)
	if r := doTenants(t, h, ev); r.Status != http.StatusOK {
		t.Fatalf("suspend = %+v", r)
	}
	cat := store.NewCatalog(store.NewClient(s.e.Config), s.e.Settings.CatalogTable)
	audit, err := cat.AuditTrail(context.Background(), acme.Record.TenantID)
	if err != nil || len(audit) != 1 {
		t.Fatalf("audit = %+v, %v", audit, err)
	}
	if audit[0].Actor != sub {
		t.Fatalf("audit actor = %q, want the operator's sub %q", audit[0].Actor, sub)
	}
}
