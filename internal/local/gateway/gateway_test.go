package gateway_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tessera-saas/tessera/internal/local/gateway"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/wire"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type stack struct {
	e   *testenv.Env
	url string
}

var (
	stackOnce sync.Once
	shared    *stack
)

// newStack serves the real api handler behind the gateway on a loopback
// port, with the real tenant authorizer, and ID tokens verified against the
// emulator's user pool.
func newStack(t *testing.T) *stack {
	e := testenv.Setup(t)
	stackOnce.Do(func() {
		v, err := wire.NewVerifier(e.Config, e.Settings)
		if err != nil {
			t.Fatal(err)
		}
		log := slog.New(slog.NewJSONHandler(gwLogSink(), nil))
		app := wire.NewAPI(e.Config, e.Settings, log, io.Discard)
		gw := gateway.New(v, map[route.Function]gateway.Handler{route.FunctionAPI: app.Handler.Handle}, log,
			gateway.WithAuthorizer(wire.NewAuthorizer(e.Config, e.Settings, log).Handle))
		srv := httptest.NewServer(gw)
		shared = &stack{e: e, url: srv.URL}
	})
	return shared
}

type reply struct {
	Status int
	Raw    string
	Body   map[string]any
	Code   string
}

func (s *stack) call(t *testing.T, token, method, path, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{Status: resp.StatusCode, Raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			t.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
		}
		if e, ok := r.Body["error"].(map[string]any); ok {
			r.Code, _ = e["code"].(string)
		}
	}
	return r
}

func (s *stack) mustCreate(t *testing.T, token, path, body string) string {
	t.Helper()
	r := s.call(t, token, "POST", path, body)
	if r.Status != http.StatusCreated {
		t.Fatalf("POST %s = %d %s", path, r.Status, r.Raw)
	}
	return r.Body["id"].(string)
}

func productJSON(sku string) string {
	return `{"name":"Anvil","sku":"` + sku + `","price":{"amount":1999,"currency":"EUR"},"description":"heavy"}`
}

func orderJSON(productID, email string) string {
	return `{"productId":"` + productID + `","quantity":2,"customer":{"name":"Ann","email":"` + email + `"}}`
}

func items(r reply) []any { v, _ := r.Body["items"].([]any); return v }

// TestAcmeWorksAndGlobexSeesNothing is the slice's acceptance test: acme's
// admin uses every route; globex's admin sees none of acme's data through any
// endpoint, id or cursor.
func TestAcmeWorksAndGlobexSeesNothing(t *testing.T) {
	s := newStack(t)
	acme := fixture.NewTenant(t, s.e, "acme")
	globex := fixture.NewTenant(t, s.e, "globex")
	a, g := acme.Token, globex.Token

	pid := s.mustCreate(t, a, "/v1/products", productJSON("ANV-1"))
	s.mustCreate(t, a, "/v1/products", productJSON("ANV-2"))
	s.mustCreate(t, a, "/v1/products", productJSON("ANV-3"))
	oid := s.mustCreate(t, a, "/v1/orders", orderJSON(pid, "buyer@acme.test"))

	if r := s.call(t, a, "GET", "/v1/products/"+pid, ""); r.Status != 200 || r.Body["sku"] != "ANV-1" {
		t.Fatalf("acme get = %d %s", r.Status, r.Raw)
	}
	page := s.call(t, a, "GET", "/v1/products?limit=2", "")
	cursor, _ := page.Body["nextCursor"].(string)
	if page.Status != 200 || len(items(page)) != 2 || cursor == "" {
		t.Fatalf("acme page 1 = %d %s", page.Status, page.Raw)
	}
	if r := s.call(t, a, "GET", "/v1/products?limit=2&cursor="+cursor, ""); r.Status != 200 || len(items(r)) != 1 {
		t.Fatalf("acme page 2 = %d %s", r.Status, r.Raw)
	}
	if r := s.call(t, a, "PUT", "/v1/products/"+pid, `{"name":"Anvil+","sku":"ANV-1","price":{"amount":2999,"currency":"EUR"},"version":1}`); r.Status != 200 || r.Body["version"] != float64(2) {
		t.Fatalf("acme update = %d %s", r.Status, r.Raw)
	}
	if r := s.call(t, a, "GET", "/v1/orders", ""); r.Status != 200 || len(items(r)) != 1 {
		t.Fatalf("acme orders = %d %s", r.Status, r.Raw)
	}

	// Globex: nothing of acme's through any route, id or cursor.
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/products", ""},
		{"GET", "/v1/orders", ""},
		{"GET", "/v1/products/" + pid, ""},
		{"GET", "/v1/orders/" + oid, ""},
		{"PUT", "/v1/products/" + pid, `{"name":"x","sku":"ANV-1","price":{"amount":1,"currency":"EUR"},"version":2}`},
		{"PUT", "/v1/orders/" + oid, `{"productId":"` + pid + `","quantity":1,"customer":{"name":"E","email":"e@globex.test"},"version":1}`},
		{"DELETE", "/v1/products/" + pid, ""},
		{"DELETE", "/v1/orders/" + oid, ""},
		{"POST", "/v1/orders", orderJSON(pid, "e@globex.test")},
		{"GET", "/v1/products?limit=2&cursor=" + cursor, ""},
	} {
		r := s.call(t, g, c.method, c.path, c.body)
		if strings.Contains(r.Raw, pid) || strings.Contains(r.Raw, oid) || strings.Contains(r.Raw, "ANV-") || strings.Contains(r.Raw, "buyer@acme.test") {
			t.Fatalf("globex %s %s leaked acme data: %d %s", c.method, c.path, r.Status, r.Raw)
		}
		if r.Status == 200 && len(items(r)) != 0 {
			t.Fatalf("globex %s %s = %s", c.method, c.path, r.Raw)
		}
		if r.Status != 200 && r.Status != 404 && r.Status != 400 {
			t.Fatalf("globex %s %s = %d %s", c.method, c.path, r.Status, r.Raw)
		}
	}
	// Acme's data is intact after globex's attempts.
	if r := s.call(t, a, "GET", "/v1/orders/"+oid, ""); r.Status != 200 || r.Body["customer"].(map[string]any)["email"] != "buyer@acme.test" {
		t.Fatalf("acme order after globex = %d %s", r.Status, r.Raw)
	}
	if r := s.call(t, a, "DELETE", "/v1/orders/"+oid, ""); r.Status != 204 {
		t.Fatalf("acme delete order = %d %s", r.Status, r.Raw)
	}
	if r := s.call(t, a, "DELETE", "/v1/products/"+pid, ""); r.Status != 204 {
		t.Fatalf("acme delete product = %d %s", r.Status, r.Raw)
	}
}

func TestTokenAttacks(t *testing.T) {
	s := newStack(t)
	acme := fixture.NewTenant(t, s.e, "acme")
	key := loadMotoKey(t)
	pool, client := s.e.Settings.UserPoolID, s.e.Settings.AppClientID
	now := time.Now()
	claims := func(mut func(map[string]any)) map[string]any {
		c := map[string]any{
			"sub": "11111111-2222-3333-4444-555555555555", "iss": "https://cognito-idp.us-east-1.amazonaws.com/" + pool,
			"aud": client, "token_use": "id", "custom:tenantId": acme.Record.TenantID, "custom:role": "admin",
			"email": "forged@acme.test", "iat": now.Unix(), "auth_time": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		}
		mut(c)
		return c
	}
	motoSigned := func(mut func(map[string]any)) string {
		return key.sign(t, map[string]any{"alg": "RS256", "kid": "dummy", "typ": "JWT"}, claims(mut))
	}
	// Sanity: a forged token with every claim right is accepted, so each
	// rejection below is due to the one thing it changes.
	if r := s.call(t, motoSigned(func(map[string]any) {}), "GET", "/v1/products", ""); r.Status != 200 {
		t.Fatalf("control token rejected: %d %s", r.Status, r.Raw)
	}

	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherSigned, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims(func(map[string]any) {}))).SignedString(otherKey)
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	body, _ := json.Marshal(claims(func(map[string]any) {}))
	algNone := hdr + "." + base64.RawURLEncoding.EncodeToString(body) + "."

	otherPoolToken, otherClientToken, accessToken := foreignTokens(t, s.e, acme.Record.TenantID)

	tests := []struct {
		name, token string
		status      int
	}{
		{"no token", "", 401},
		{"garbage", "not.a.jwt", 401},
		{"bearer only", "Bearer ", 401},
		{"signed by another key", otherSigned, 401},
		{"alg none", algNone, 401},
		{"expired", motoSigned(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }), 401},
		{"issuer of another pool (forged)", motoSigned(func(c map[string]any) { c["iss"] = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other" }), 401},
		{"token of another pool (real)", otherPoolToken, 401},
		{"token of another app client (real)", otherClientToken, 401},
		{"access token (real)", accessToken, 401},
		{"token_use access (forged)", motoSigned(func(c map[string]any) { c["token_use"] = "access" }), 401},
		{"no tenant claim", motoSigned(func(c map[string]any) { delete(c, "custom:tenantId") }), 401},
		{"empty tenant claim", motoSigned(func(c map[string]any) { c["custom:tenantId"] = "" }), 401},
		{"tenant with hash", motoSigned(func(c map[string]any) { c["custom:tenantId"] = acme.Record.TenantID + "#PRODUCT" }), 401},
		{"tenant with star", motoSigned(func(c map[string]any) { c["custom:tenantId"] = "t-*" }), 401},
		{"tenant upper case", motoSigned(func(c map[string]any) { c["custom:tenantId"] = strings.ToUpper(acme.Record.TenantID) }), 401},
		{"tenant unknown", motoSigned(func(c map[string]any) { c["custom:tenantId"] = "t-unknown-tenant" }), 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.call(t, tc.token, "POST", "/v1/products", productJSON("ATTACK-1"))
			if r.Status != tc.status {
				t.Fatalf("status %d %s, want %d", r.Status, r.Raw, tc.status)
			}
			if r.Code == "" {
				t.Fatalf("error without code: %s", r.Raw)
			}
		})
	}
	if r := s.call(t, acme.Token, "GET", "/v1/products", ""); len(items(r)) != 0 {
		t.Fatalf("an attack wrote data: %s", r.Raw)
	}
}

// foreignTokens returns a real ID token of a second user pool, one of a
// second app client of the same pool (both signed with moto's one key), and a
// real access token of the main client.
func foreignTokens(t *testing.T, e *testenv.Env, tenantID string) (otherPool, otherClient, access string) {
	ctx := context.Background()
	idp := cip.NewFromConfig(e.Config)
	login := func(poolID, clientID string) *ciptypes.AuthenticationResultType {
		email := fmt.Sprintf("foreign-%d@test.test", time.Now().UnixNano())
		if _, err := idp.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: &poolID, Username: &email,
			MessageAction: ciptypes.MessageActionTypeSuppress,
			UserAttributes: []ciptypes.AttributeType{{Name: aws.String("email"), Value: &email},
				{Name: aws.String("custom:tenantId"), Value: &tenantID}, {Name: aws.String("custom:role"), Value: aws.String("admin")}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := idp.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{UserPoolId: &poolID, Username: &email, Password: aws.String(fixture.Password), Permanent: true}); err != nil {
			t.Fatal(err)
		}
		out, err := idp.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: &clientID, AuthFlow: ciptypes.AuthFlowTypeUserPasswordAuth,
			AuthParameters: map[string]string{"USERNAME": email, "PASSWORD": fixture.Password}})
		if err != nil {
			t.Fatal(err)
		}
		return out.AuthenticationResult
	}
	newClient := func(poolID string) string {
		out, err := idp.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{UserPoolId: &poolID, ClientName: aws.String("other"),
			ExplicitAuthFlows: []ciptypes.ExplicitAuthFlowsType{ciptypes.ExplicitAuthFlowsTypeAllowUserPasswordAuth}})
		if err != nil {
			t.Fatal(err)
		}
		return *out.UserPoolClient.ClientId
	}
	pool, err := idp.CreateUserPool(ctx, &cip.CreateUserPoolInput{PoolName: aws.String("other-pool"),
		Schema: []ciptypes.SchemaAttributeType{{Name: aws.String("tenantId"), AttributeDataType: ciptypes.AttributeDataTypeString},
			{Name: aws.String("role"), AttributeDataType: ciptypes.AttributeDataTypeString}}})
	if err != nil {
		t.Fatal(err)
	}
	otherPool = *login(*pool.UserPool.Id, newClient(*pool.UserPool.Id)).IdToken
	otherClient = *login(e.Settings.UserPoolID, newClient(e.Settings.UserPoolID)).IdToken
	access = *login(e.Settings.UserPoolID, e.Settings.AppClientID).AccessToken
	return otherPool, otherClient, access
}

func TestPathAndQueryAttacks(t *testing.T) {
	s := newStack(t)
	acme := fixture.NewTenant(t, s.e, "acme")
	globex := fixture.NewTenant(t, s.e, "globex")
	pid := s.mustCreate(t, acme.Token, "/v1/products", productJSON("P-1"))
	s.mustCreate(t, acme.Token, "/v1/products", productJSON("P-2"))
	gpid := s.mustCreate(t, globex.Token, "/v1/products", productJSON("G-1"))
	s.mustCreate(t, globex.Token, "/v1/products", productJSON("G-2"))
	cursor, _ := s.call(t, acme.Token, "GET", "/v1/products?limit=1", "").Body["nextCursor"].(string)
	if cursor == "" {
		t.Fatal("no cursor")
	}
	edited := []byte(cursor)
	edited[3] ^= 0x01
	tests := []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"foreign product id", "GET", "/v1/products/" + pid, 404, "not_found"},
		{"foreign product update", "PUT", "/v1/products/" + pid, 404, "not_found"},
		{"foreign product delete", "DELETE", "/v1/products/" + pid, 404, "not_found"},
		{"id with hash", "GET", "/v1/products/" + globex.Record.TenantID + "%23PRODUCT", 400, "invalid_id"},
		{"id with star", "GET", "/v1/products/*", 400, "invalid_id"},
		{"id with nul", "GET", "/v1/products/" + pid[:25] + "%00", 400, "invalid_id"},
		{"id very long", "GET", "/v1/products/" + strings.Repeat("A", 5000), 400, "invalid_id"},
		{"id not utf8", "GET", "/v1/products/%FF%FE", 400, "invalid_id"},
		{"id with slash", "GET", "/v1/products/" + pid + "%2Fx", 400, "invalid_id"},
		{"limit 0", "GET", "/v1/products?limit=0", 400, "invalid_limit"},
		{"limit -1", "GET", "/v1/products?limit=-1", 400, "invalid_limit"},
		{"limit 1e9", "GET", "/v1/products?limit=1e9", 400, "invalid_limit"},
		{"limit 1000000000", "GET", "/v1/products?limit=1000000000", 400, "invalid_limit"},
		{"cursor replayed by another tenant", "GET", "/v1/products?limit=1&cursor=" + cursor, 400, "invalid_cursor"},
		{"cursor edited", "GET", "/v1/products?limit=1&cursor=" + string(edited), 400, "invalid_cursor"},
		{"cursor not utf8", "GET", "/v1/products?cursor=%FF", 400, "invalid_cursor"},
		{"cursor very long", "GET", "/v1/products?cursor=" + strings.Repeat("A", 4000), 400, "invalid_cursor"},
		{"tenant in query is ignored", "GET", "/v1/products?tenantId=" + acme.Record.TenantID, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Replayed cursor: globex uses acme's cursor. Everything else: globex too.
			body := ""
			if tc.method == "PUT" {
				body = `{"name":"x","sku":"P-1","price":{"amount":1,"currency":"EUR"},"version":1}`
			}
			r := s.call(t, globex.Token, tc.method, tc.path, body)
			if r.Status != tc.status || r.Code != tc.code {
				t.Fatalf("%d %q %s, want %d %q", r.Status, r.Code, r.Raw, tc.status, tc.code)
			}
			if strings.Contains(r.Raw, pid) || strings.Contains(r.Raw, "P-1") || strings.Contains(r.Raw, "P-2") {
				t.Fatalf("acme data in globex's response: %s", r.Raw)
			}
		})
	}
	if r := s.call(t, globex.Token, "GET", "/v1/products/"+gpid, ""); r.Status != 200 {
		t.Fatalf("globex lost its product: %d %s", r.Status, r.Raw)
	}
	if r := s.call(t, acme.Token, "GET", "/v1/products/"+pid, ""); r.Status != 200 || r.Body["version"] != float64(1) {
		t.Fatalf("acme's product changed by globex's attempts: %d %s", r.Status, r.Raw)
	}
}

func TestFiftyTenantsConcurrently(t *testing.T) {
	s := newStack(t)
	const n = 50
	tenants := make([]fixture.Tenant, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range tenants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			tenants[i] = fixture.NewTenant(t, s.e, fmt.Sprintf("c%02d", i))
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	errs := make(chan error, n)
	for i, tn := range tenants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- concurrentTenant(s, tn, i)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// concurrentTenant writes three products and an order for tenant i, then
// checks it reads back exactly its own rows.
func concurrentTenant(s *stack, tn fixture.Tenant, i int) error {
	do := func(method, path, body string) (int, map[string]any, error) {
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", tn.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m, nil
	}
	var pid string
	for j := 0; j < 3; j++ {
		st, m, err := do("POST", "/v1/products", productJSON(fmt.Sprintf("T%02d-%d", i, j)))
		if err != nil || st != 201 {
			return fmt.Errorf("tenant %d create product: %d %v %v", i, st, m, err)
		}
		pid = m["id"].(string)
	}
	if st, m, err := do("POST", "/v1/orders", orderJSON(pid, fmt.Sprintf("c%d@x.test", i))); err != nil || st != 201 {
		return fmt.Errorf("tenant %d create order: %d %v %v", i, st, m, err)
	}
	st, m, err := do("GET", "/v1/products?limit=100", "")
	if err != nil || st != 200 {
		return fmt.Errorf("tenant %d list: %d %v", i, st, err)
	}
	got, _ := m["items"].([]any)
	if len(got) != 3 {
		return fmt.Errorf("tenant %d sees %d products, want 3", i, len(got))
	}
	for _, it := range got {
		if sku := it.(map[string]any)["sku"].(string); !strings.HasPrefix(sku, fmt.Sprintf("T%02d-", i)) {
			return fmt.Errorf("tenant %d sees foreign product %s", i, sku)
		}
	}
	st, m, err = do("GET", "/v1/orders?limit=100", "")
	if err != nil || st != 200 {
		return fmt.Errorf("tenant %d list orders: %d %v", i, st, err)
	}
	orders, _ := m["items"].([]any)
	if len(orders) != 1 || orders[0].(map[string]any)["customer"].(map[string]any)["email"] != fmt.Sprintf("c%d@x.test", i) {
		return fmt.Errorf("tenant %d orders = %v", i, orders)
	}
	return nil
}

func gwLogSink() io.Writer {
	if os.Getenv("GW_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}
