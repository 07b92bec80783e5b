package gateway_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/local/gateway"
	"github.com/tessera-saas/tessera/internal/local/seed"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/local/throttle"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/wire"
)

// keyRig is the gateway as `tessera up` runs it (real authorizer, handler,
// catalog, user pool and limits), recording the events the api function
// receives.
type keyRig struct {
	*limitRig
	mu     sync.Mutex
	events []events.APIGatewayProxyRequest
}

func newKeyRig(t *testing.T, e *testenv.Env) *keyRig {
	t.Helper()
	v, err := wire.NewVerifier(e.Config, e.Settings)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	app := wire.NewAPI(e.Config, e.Settings, log, io.Discard)
	rig := &keyRig{limitRig: &limitRig{limiter: throttle.New(), served: map[route.Function]int{}}}
	api := func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		rig.mu.Lock()
		rig.events = append(rig.events, ev)
		rig.mu.Unlock()
		return app.Handler.Handle(ctx, ev)
	}
	gw := gateway.New(v, map[route.Function]gateway.Handler{route.FunctionAPI: api}, log,
		gateway.WithAuthorizer(wire.NewAuthorizer(e.Config, e.Settings, log).Handle),
		gateway.WithLimits(rig.limiter),
		gateway.WithAuthorizerCache(gateway.AuthorizerCacheTTL, wire.MaxCachedTokens))
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	rig.url = srv.URL
	return rig
}

func randomKey() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestAPIKeysFollowTheVerifiedTenant (issue 11, item 1): the usage plan
// counts the key the tenant authorizer chose for the verified tenant, never
// the x-api-key a client sends. Tenant A flooding with B's key, and with
// keys it rotates, is throttled at A's own burst and leaves B's bucket
// untouched: B is then served its full burst.
func TestAPIKeysFollowTheVerifiedTenant(t *testing.T) {
	e := testenv.Setup(t)
	rig := newKeyRig(t, e)
	a := fixture.NewTenant(t, e, "keya")
	b := fixture.NewTenant(t, e, "keyb")
	if a.Record.UsageKey == "" || b.Record.UsageKey == "" || a.Record.UsageKey == b.Record.UsageKey {
		t.Fatalf("tenants' API keys %q and %q: want two keys", a.Record.UsageKey, b.Record.UsageKey)
	}
	l, _ := plan.For(catalog.TierBasic)

	// A sends 3x its burst, each request with B's key or a fresh random one.
	passed := 0
	for i := 0; i < 3*l.BurstLimit; i++ {
		key := b.Record.UsageKey
		if i%2 == 1 {
			key = randomKey()
		}
		switch got := rig.getWithKey(t, a.Token, key, "/v1/products"); got.status {
		case http.StatusOK:
			passed++
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("A's request %d: %+v", i, got)
		}
	}
	// The burst, plus what refilled meanwhile (a few at most).
	if passed < l.BurstLimit || passed > l.BurstLimit+5 {
		t.Fatalf("A passed %d of %d requests sent with other keys, want its own burst %d (keys it sends must not count)", passed, 3*l.BurstLimit, l.BurstLimit)
	}
	// B's bucket is full: a whole burst of B's requests is served.
	for i := 0; i < l.BurstLimit; i++ {
		if got := rig.get(t, b.Token, "/v1/products"); got.status != http.StatusOK {
			t.Fatalf("B's request %d after A's flood with B's key = %+v, want 200", i, got)
		}
	}
	// B sending A's key does not spend A's bucket either, nor escape its own.
	if got := rig.getWithKey(t, b.Token, a.Record.UsageKey, "/v1/products"); got.status != http.StatusOK && got.status != http.StatusTooManyRequests {
		t.Fatalf("B with A's key = %+v", got)
	}

	// The function got the authorizer's context for the verified tenant,
	// as API Gateway passes it (requestContext.authorizer), and no key.
	rig.mu.Lock()
	defer rig.mu.Unlock()
	if len(rig.events) == 0 {
		t.Fatal("no request reached the api function")
	}
	for _, ev := range rig.events {
		az := ev.RequestContext.Authorizer
		tenantID, _ := az["tenantId"].(string)
		if tenantID != a.Record.TenantID && tenantID != b.Record.TenantID {
			t.Fatalf("requestContext.authorizer = %v, want the tenant authorizer's context", az)
		}
		if az["principalId"] == "" || az["principalId"] != az["sub"] || az["tier"] != string(catalog.TierBasic) || az["claims"] != nil {
			t.Fatalf("requestContext.authorizer = %v, want principalId = sub, tier basic, no Cognito claims", az)
		}
		for k, v := range az {
			if s, _ := v.(string); s != "" && (s == a.Record.UsageKey || s == b.Record.UsageKey) {
				t.Fatalf("requestContext.authorizer[%s] holds an API key", k)
			}
		}
	}
}

// TestTenantWithoutAPIKeyIsDenied: a tenant whose record holds no API key
// (one the provisioner has not bound yet) is refused by the authorizer with
// 403, before any function runs, whatever x-api-key its client sends.
func TestTenantWithoutAPIKeyIsDenied(t *testing.T) {
	e := testenv.Setup(t)
	rig := newKeyRig(t, e)
	other := fixture.NewTenant(t, e, "haskey")
	d := fixture.SeedDeps(e)
	d.APIKeys = nil
	email := "nokey-" + strings.ToLower(randomKey()[:10]) + "@nokey.test"
	rec, err := seed.Ensure(context.Background(), d, seed.Spec{Name: "nokey", Tier: catalog.TierBasic, AdminEmail: email, Password: fixture.Password})
	if err != nil {
		t.Fatal(err)
	}
	if rec.UsageKey != "" {
		t.Fatal("the seeded tenant has a key")
	}
	tok := fixture.Login(t, e, email)
	for _, key := range []string{"", other.Record.UsageKey, randomKey()} {
		if got := rig.getWithKey(t, tok, key, "/v1/products"); got.status != http.StatusForbidden || got.code != "forbidden" {
			t.Fatalf("tenant without a key, x-api-key sent %v: %+v, want 403 forbidden", key != "", got)
		}
	}
	rig.mu.Lock()
	defer rig.mu.Unlock()
	if len(rig.events) != 0 {
		t.Fatalf("%d requests of a tenant without a key reached the function", len(rig.events))
	}
}
