package authorizer_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tessera-saas/tessera/internal/app/authorizer"
	"github.com/tessera-saas/tessera/internal/local/seed"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
	"github.com/tessera-saas/tessera/internal/wire"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// sample is events/authorizer-request.json (the REQUEST authorizer input
// API Gateway sends for POST /v1/products) with authorization as its
// Authorization header ("" removes it).
func sample(t *testing.T, authorization string) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "events", "authorizer-request.json"))
	if err != nil {
		t.Fatal(err)
	}
	var req events.APIGatewayCustomAuthorizerRequestTypeRequest
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	if req.Headers["Authorization"] != "Bearer {{id-token}}" {
		t.Fatalf("sample's Authorization header is %q, want the placeholder", req.Headers["Authorization"])
	}
	delete(req.Headers, "Authorization")
	delete(req.MultiValueHeaders, "Authorization")
	if authorization != "" {
		req.Headers["Authorization"] = authorization
		req.MultiValueHeaders["Authorization"] = []string{authorization}
	}
	return req
}

const stageResource = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*"

func newAuthorizer(t *testing.T, e *testenv.Env) *authorizer.Handler {
	s := e.Settings
	s.CatalogTTL = 0 // see lifecycle changes at once
	return wire.NewAuthorizer(e.Config, s, slog.New(slog.NewJSONHandler(io.Discard, nil)))
}

// userOf makes a user of tenantID (any string: the catalog may not know
// it) and returns its ID token.
func userOf(t *testing.T, e *testenv.Env, tenantID string) string {
	t.Helper()
	email := fmt.Sprintf("authz-%d@authz.test", time.Now().UnixNano())
	if err := seed.EnsureUser(context.Background(), cip.NewFromConfig(e.Config), e.Settings.UserPoolID, tenantID, tenant.RoleMember, email, fixture.Password); err != nil {
		t.Fatal(err)
	}
	return fixture.Login(t, e, email)
}

func TestAllowCarriesTheTenantsKeyAndClaims(t *testing.T) {
	e := testenv.Setup(t)
	h := newAuthorizer(t, e)
	acme := fixture.NewTenant(t, e, "acme")
	if acme.Record.UsageKey == "" {
		t.Fatal("the fixture tenant has no API key")
	}
	resp, err := h.Handle(context.Background(), sample(t, "Bearer "+acme.Token))
	if err != nil {
		t.Fatal(err)
	}
	if resp.UsageIdentifierKey != acme.Record.UsageKey {
		t.Fatalf("usageIdentifierKey is not the tenant's API key")
	}
	st := resp.PolicyDocument.Statement
	if resp.PolicyDocument.Version != "2012-10-17" || len(st) != 1 || st[0].Effect != "Allow" ||
		strings.Join(st[0].Action, ",") != "execute-api:Invoke" || strings.Join(st[0].Resource, ",") != stageResource {
		t.Fatalf("policy = %+v, want Allow execute-api:Invoke on %s", resp.PolicyDocument, stageResource)
	}
	c := resp.Context
	if resp.PrincipalID == "" || c["sub"] != resp.PrincipalID || c["tenantId"] != acme.Record.TenantID ||
		c["role"] != "admin" || c["tier"] != string(catalog.TierBasic) || c["groups"] != "" {
		t.Fatalf("principal %q, context %v", resp.PrincipalID, c)
	}
	// The wire format API Gateway reads.
	b, _ := json.Marshal(resp)
	for _, field := range []string{`"principalId":`, `"policyDocument":`, `"usageIdentifierKey":`, `"context":`} {
		if !strings.Contains(string(b), field) {
			t.Fatalf("response JSON lacks %s: %s", field, b)
		}
	}
}

// TestRestoringTenantIsAllowed: a tenant being restored is read-only, not
// inactive. The authorizer allows its users, with its key, on the sample's
// route (POST /v1/products) as on any other: API Gateway caches the answer
// per token, and the API itself refuses the writes (tenantapi). Once it is
// suspended, the same token is denied.
func TestRestoringTenantIsAllowed(t *testing.T) {
	e := testenv.Setup(t)
	h := newAuthorizer(t, e)
	ctx := context.Background()
	acme := fixture.NewTenant(t, e, "acme")
	cat := store.NewCatalog(store.NewClient(e.Config), e.Settings.CatalogTable)
	if _, err := cat.Apply(ctx, acme.Record.TenantID, store.Change{From: []catalog.Status{catalog.StatusActive}, To: catalog.StatusRestoring}, nil, nil); err != nil {
		t.Fatal(err)
	}
	resp, err := h.Handle(ctx, sample(t, "Bearer "+acme.Token))
	if err != nil {
		t.Fatal(err)
	}
	if st := resp.PolicyDocument.Statement; len(st) != 1 || st[0].Effect != "Allow" || resp.UsageIdentifierKey != acme.Record.UsageKey {
		t.Fatalf("answer = %+v, want an Allow with the tenant's key", resp)
	}
	if resp.Context[authorizer.ContextTenantID] != acme.Record.TenantID || resp.Context[authorizer.ContextReason] != nil {
		t.Fatalf("context = %v", resp.Context)
	}
	if _, err := cat.Apply(ctx, acme.Record.TenantID, store.Change{From: []catalog.Status{catalog.StatusRestoring}, To: catalog.StatusSuspended}, nil, nil); err != nil {
		t.Fatal(err)
	}
	resp, err = h.Handle(ctx, sample(t, "Bearer "+acme.Token))
	if err != nil {
		t.Fatal(err)
	}
	if st := resp.PolicyDocument.Statement; len(st) != 1 || st[0].Effect != "Deny" || resp.Context[authorizer.ContextReason] != authorizer.ReasonTenantInactive {
		t.Fatalf("suspended after restoring: %+v, want a Deny (%s)", resp, authorizer.ReasonTenantInactive)
	}
}

func TestRefusals(t *testing.T) {
	e := testenv.Setup(t)
	h := newAuthorizer(t, e)
	ctx := context.Background()
	acme := fixture.NewTenant(t, e, "acme")
	now := time.Now()
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	forged := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"sub": "11111111-2222-3333-4444-555555555555", "iss": "https://cognito-idp.us-east-1.amazonaws.com/" + e.Settings.UserPoolID,
		"aud": e.Settings.AppClientID, "token_use": "id", "custom:tenantId": acme.Record.TenantID, "custom:role": "admin",
		"iat": now.Unix(), "auth_time": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	forged.Header["kid"] = "dummy"
	otherSigned, _ := forged.SignedString(otherKey)
	operator := fmt.Sprintf("authz-op-%d@authz.test", now.UnixNano())
	if err := seed.EnsureOperator(ctx, cip.NewFromConfig(e.Config), e.Settings.UserPoolID, operator, fixture.Password); err != nil {
		t.Fatal(err)
	}
	for name, authorization := range map[string]string{
		"no token":                    "",
		"empty bearer":                "Bearer ",
		"garbage":                     "Bearer not.a.jwt",
		"token signed by another key": "Bearer " + otherSigned,
		"token of no tenant":          "Bearer " + fixture.Login(t, e, operator),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.Handle(ctx, sample(t, authorization))
			if err == nil || err.Error() != "Unauthorized" {
				t.Fatalf("err = %v, want exactly Unauthorized (API Gateway's 401)", err)
			}
		})
	}

	deny := func(t *testing.T, token, reason string) {
		t.Helper()
		resp, err := h.Handle(ctx, sample(t, "Bearer "+token))
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.PolicyDocument.Statement) != 1 || resp.PolicyDocument.Statement[0].Effect != "Deny" || resp.UsageIdentifierKey != "" {
			t.Fatalf("answer = %+v, want a Deny without a key", resp)
		}
		if resp.Context[authorizer.ContextReason] != reason {
			t.Fatalf("reason = %v, want %s", resp.Context[authorizer.ContextReason], reason)
		}
	}
	t.Run("unknown tenant", func(t *testing.T) {
		deny(t, userOf(t, e, "t-unknown-"+strings.ToLower(tenant.NewID()[2:12])), authorizer.ReasonTenantUnknown)
	})
	t.Run("tenant without an API key", func(t *testing.T) {
		d := fixture.SeedDeps(e)
		d.APIKeys = nil
		email := fmt.Sprintf("authz-nokey-%d@authz.test", time.Now().UnixNano())
		if _, err := seed.Ensure(ctx, d, seed.Spec{Name: "nokey", Tier: catalog.TierBasic, AdminEmail: email, Password: fixture.Password}); err != nil {
			t.Fatal(err)
		}
		deny(t, fixture.Login(t, e, email), authorizer.ReasonNoUsageKey)
	})
	t.Run("suspended tenant", func(t *testing.T) {
		cat := store.NewCatalog(store.NewClient(e.Config), e.Settings.CatalogTable)
		if _, err := cat.Apply(ctx, acme.Record.TenantID, store.Change{From: []catalog.Status{catalog.StatusActive}, To: catalog.StatusSuspended}, nil, nil); err != nil {
			t.Fatal(err)
		}
		deny(t, acme.Token, authorizer.ReasonTenantInactive)
	})
	t.Run("a method ARN that is not one is an error, not a 401", func(t *testing.T) {
		req := sample(t, "Bearer "+acme.Token)
		req.MethodArn = "arn:aws:lambda:us-east-1:123456789012:function:x"
		if _, err := h.Handle(ctx, req); err == nil || errors.Is(err, authorizer.ErrUnauthorized) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestStageResource(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/v1/products":              "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*",
		"arn:aws:execute-api:eu-west-1:123456789012:abc123/dev/DELETE/v1/orders/01JCZ8W3T1K5": "arn:aws:execute-api:eu-west-1:123456789012:abc123/dev/*",
		"arn:aws-cn:execute-api:cn-north-1:123456789012:a1/s/POST/":                           "arn:aws-cn:execute-api:cn-north-1:123456789012:a1/s/*",
		"arn:aws:execute-api:us-east-1:123456789012:abc123":                                   "",
		"arn:aws:execute-api:us-east-1:123456789012:*/prod/GET/x":                             "",
		"arn:aws:lambda:us-east-1:123456789012:function:f":                                    "",
		"": "",
	} {
		got, err := authorizer.StageResource(arn)
		if want == "" {
			if err == nil {
				t.Errorf("%q: %q, want an error", arn, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", arn, got, err, want)
		}
	}
}
