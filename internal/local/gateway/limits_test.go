package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/app/authorizer"
	"github.com/tessera-saas/tessera/internal/local/gateway"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/local/throttle"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/idtoken"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
	"github.com/tessera-saas/tessera/internal/wire"
)

// The first tests exercise the gateway's own limiting logic: the verifier,
// the catalog and the handlers are stand-ins (the authorizer is the real
// one), so the numbers are exact. The last runs on the real stack.

// tokenIsTenant accepts any token and makes it the tenant id ("op" is an
// operator).
type tokenIsTenant struct{}

func (tokenIsTenant) Verify(_ context.Context, raw string) (map[string]string, error) {
	if raw == "op" {
		return map[string]string{"sub": "op", tenant.ClaimGroups: tenant.OperatorsGroup}, nil
	}
	return map[string]string{"sub": "user-of-" + raw, tenant.ClaimTenantID: raw, tenant.ClaimRole: "admin"}, nil
}

// Tenant ids of the tests.
var (
	flood, calm, std = tenant.NewID(), tenant.NewID(), tenant.NewID()
)

// tierTable is a stand-in catalog: ACTIVE tenants of the given tiers.
type tierTable map[string]catalog.Tier

func (tt tierTable) Get(_ context.Context, id string) (catalog.Record, error) {
	t, ok := tt[id]
	if !ok {
		return catalog.Record{}, catalog.ErrNotFound
	}
	return catalog.Record{TenantID: id, Tier: t, Status: catalog.StatusActive}, nil
}

// tenantAuthorizer is the real tenant authorizer (internal/app/authorizer)
// on stand-ins: every error of v is a rejected token, claims without a sub
// get one, and every tenant of c has the API key "key-<tenant id>".
func tenantAuthorizer(v tenant.Verifier, c authorizer.Catalog) gateway.Authorizer {
	return authorizer.New(standInTokens{v}, withKeys{c}, slog.New(slog.DiscardHandler)).Handle
}

type standInTokens struct{ v tenant.Verifier }

func (s standInTokens) Verify(ctx context.Context, raw string) (map[string]string, error) {
	c, err := s.v.Verify(ctx, raw)
	if err != nil {
		if !errors.Is(err, idtoken.ErrInvalidToken) {
			err = fmt.Errorf("%w: %v", idtoken.ErrInvalidToken, err)
		}
		return nil, err
	}
	if c["sub"] == "" {
		withSub := map[string]string{"sub": "user-of-" + c[tenant.ClaimTenantID]}
		for k, v := range c {
			withSub[k] = v
		}
		c = withSub
	}
	return c, nil
}

type withKeys struct{ c authorizer.Catalog }

// usageKey is the stand-in API key of a tenant.
func usageKey(tenantID string) string { return "key-" + tenantID }

func (w withKeys) Get(ctx context.Context, id string) (catalog.Record, error) {
	rec, err := w.c.Get(ctx, id)
	if err == nil && rec.UsageKey == "" {
		rec.UsageKey = usageKey(id)
	}
	return rec, err
}

type limitRig struct {
	url     string
	limiter *throttle.Limiter
	served  map[route.Function]int
	// events are what the api handler received.
	events []events.APIGatewayProxyRequest
}

func newLimitRig(t *testing.T, tiers tierTable) *limitRig {
	frozen := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) // no refill during a test
	rig := &limitRig{limiter: throttle.New(throttle.WithClock(func() time.Time { return frozen })), served: map[route.Function]int{}}
	ok := func(fn route.Function) gateway.Handler {
		return func(_ context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			rig.served[fn]++
			rig.events = append(rig.events, ev)
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: `{}`}, nil
		}
	}
	gw := gateway.New(tokenIsTenant{}, map[route.Function]gateway.Handler{route.FunctionAPI: ok(route.FunctionAPI), route.FunctionTenants: ok(route.FunctionTenants)},
		slog.New(slog.NewJSONHandler(io.Discard, nil)), gateway.WithAuthorizer(tenantAuthorizer(tokenIsTenant{}, tiers)), gateway.WithLimits(rig.limiter))
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	rig.url = srv.URL
	return rig
}

type answer struct {
	status     int
	code       string
	retryAfter string
}

func (r *limitRig) get(t *testing.T, token, path string) answer {
	t.Helper()
	return r.getWithKey(t, token, "", path)
}

// getWithKey sends GET path with the token and, unless apiKey is empty, an
// x-api-key header.
func (r *limitRig) getWithKey(t *testing.T, token, apiKey, path string) answer {
	t.Helper()
	req, _ := http.NewRequest("GET", r.url+path, nil)
	req.Header.Set("Authorization", token)
	if apiKey != "" {
		req.Header.Set("x-api-key", apiKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&b)
	return answer{resp.StatusCode, b.Error.Code, resp.Header.Get("Retry-After")}
}

// untilRefused counts the requests that pass before the first 429.
func (r *limitRig) untilRefused(t *testing.T, token string, max int) (int, answer) {
	t.Helper()
	for i := 0; i < max; i++ {
		if a := r.get(t, token, "/v1/products"); a.status != 200 {
			return i, a
		}
	}
	return max, answer{}
}

func TestGatewayEnforcesEachTenantsTierLimits(t *testing.T) {
	tiers := tierTable{flood: catalog.TierBasic, calm: catalog.TierBasic, std: catalog.TierStandard}
	rig := newLimitRig(t, tiers)
	for _, tc := range []struct {
		tenant string
		tier   catalog.Tier
	}{{flood, catalog.TierBasic}, {std, catalog.TierStandard}} {
		l, _ := plan.For(tc.tier)
		n, refused := rig.untilRefused(t, tc.tenant, 1000)
		if n != l.BurstLimit {
			t.Fatalf("%s (%s): %d requests passed before a 429, want the burst %d", tc.tenant, tc.tier, n, l.BurstLimit)
		}
		if refused.status != http.StatusTooManyRequests || refused.code != throttle.CodeRateLimited || refused.retryAfter != "1" {
			t.Fatalf("%s refused with %+v, want 429 rate_limited Retry-After 1", tc.tenant, refused)
		}
	}
	// At the same moment, another basic tenant is served in full.
	if a := rig.get(t, calm, "/v1/products"); a.status != 200 {
		t.Fatalf("a calm tenant of the flooding tenant's tier got %+v", a)
	}
	// Refused requests never reached the handler.
	want := 20 + 100 + 1
	if got := rig.served[route.FunctionAPI]; got != want {
		t.Fatalf("handler served %d requests, want %d (refused ones must not reach it)", got, want)
	}
}

func TestGatewayAnswersQuotaExceeded(t *testing.T) {
	rig := newLimitRig(t, tierTable{calm: catalog.TierBasic})
	l, _ := plan.For(catalog.TierBasic)
	// Spend the month's quota of calm's key through the same limiter, as
	// earlier requests would have, without a bucket in the way.
	spend := l
	spend.RateLimit, spend.BurstLimit = 1e9, 1<<30
	for i := int64(0); i < l.MonthlyQuota; i++ {
		rig.limiter.Allow(usageKey(calm), spend)
	}
	a := rig.get(t, calm, "/v1/products")
	if a.status != http.StatusTooManyRequests || a.code != throttle.CodeQuotaExceeded {
		t.Fatalf("over quota = %+v, want 429 quota_exceeded", a)
	}
	// 2026-11-23T12:00Z to 2026-12-01T00:00Z.
	if want := "648000"; a.retryAfter != want {
		t.Fatalf("Retry-After %q, want %s (the start of next month)", a.retryAfter, want)
	}
	if rig.served[route.FunctionAPI] != 0 {
		t.Fatal("a request over quota reached the handler")
	}
}

func TestGatewayDoesNotLimitOperatorsAndDeniesUnknownTenants(t *testing.T) {
	rig := newLimitRig(t, tierTable{})
	for i := 0; i < 50; i++ {
		if a := rig.get(t, "op", "/v1/tenants"); a.status != 200 {
			t.Fatalf("operator request %d = %+v", i, a)
		}
		// A tenant the catalog does not know: the authorizer denies it
		// before any function runs or any plan counts it.
		if a := rig.get(t, tenant.NewID(), "/v1/products"); a.status != http.StatusForbidden || a.code != "forbidden" {
			t.Fatalf("unknown tenant request %d = %+v, want 403 forbidden", i, a)
		}
	}
	if rig.served[route.FunctionAPI] != 0 {
		t.Fatalf("%d requests of unknown tenants reached the handler", rig.served[route.FunctionAPI])
	}
}

// TestFloodingTenantIsThrottledOnTheRealStack runs the limits with real ID
// tokens from the emulator's user pool, the real authorizer and handler and
// the catalog: a basic tenant that sends far more than its burst is refused
// with 429 after about its burst, while another basic tenant is served at
// once.
func TestFloodingTenantIsThrottledOnTheRealStack(t *testing.T) {
	e := testenv.Setup(t)
	rig := realLimitRig(t, e)
	flooder := fixture.NewTenant(t, e, "flooder")
	neighbour := fixture.NewTenant(t, e, "calm")
	l, _ := plan.For(catalog.TierBasic)

	start := time.Now()
	const sent = 60
	passed, refused := 0, answer{}
	for i := 0; i < sent; i++ {
		a := rig.get(t, flooder.Token, "/v1/products")
		switch a.status {
		case http.StatusOK:
			passed++
		case http.StatusTooManyRequests:
			refused = a
		default:
			t.Fatalf("request %d: %+v", i, a)
		}
	}
	elapsed := time.Since(start).Seconds()
	// The burst, plus what the bucket refilled while the requests ran.
	most := l.BurstLimit + int(elapsed*l.RateLimit) + 1
	if passed < l.BurstLimit || passed > most || passed == sent {
		t.Fatalf("%d of %d requests passed in %.2fs, want between the burst %d and %d", passed, sent, elapsed, l.BurstLimit, most)
	}
	if refused.code != throttle.CodeRateLimited || refused.retryAfter == "" {
		t.Fatalf("refused with %+v, want 429 rate_limited with Retry-After", refused)
	}
	if a := rig.get(t, neighbour.Token, "/v1/products"); a.status != http.StatusOK {
		t.Fatalf("the other basic tenant got %+v while the first was throttled", a)
	}
}

// realLimitRig is the gateway as `tessera up` runs it: the real tenant
// authorizer with its result cache, the real api handler and the usage
// plans' limits on a real clock.
func realLimitRig(t *testing.T, e *testenv.Env) *limitRig {
	t.Helper()
	v, err := wire.NewVerifier(e.Config, e.Settings)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	app := wire.NewAPI(e.Config, e.Settings, log, io.Discard)
	rig := &limitRig{limiter: throttle.New(), served: map[route.Function]int{}}
	gw := gateway.New(v, map[route.Function]gateway.Handler{route.FunctionAPI: app.Handler.Handle}, log,
		gateway.WithAuthorizer(wire.NewAuthorizer(e.Config, e.Settings, log).Handle),
		gateway.WithLimits(rig.limiter),
		gateway.WithAuthorizerCache(gateway.AuthorizerCacheTTL, wire.MaxCachedTokens))
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	rig.url = srv.URL
	return rig
}
