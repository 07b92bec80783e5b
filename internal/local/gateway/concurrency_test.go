package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strings"
	"sync"
	"testing"

	"github.com/tessera-saas/tessera/internal/local/gateway"
	"github.com/tessera-saas/tessera/internal/local/seed"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/local/throttle"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
	"github.com/tessera-saas/tessera/internal/wire"
)

// These tests prove SKU uniqueness and optimistic versioning under many
// concurrent writers on the local stack, over HTTP through the gateway
// exactly as `make run` wires it (real ID tokens, the tenant authorizer and
// its cache, the limiter, the real api handler). They can only pass because
// the emulator isolates DynamoDB writes (tools/moto/serve.py): moto's
// werkzeug server let two conditional writes of one item both succeed.

// writers is how many clients race in each round.
const writers = 20

// rounds is how many races each test runs.
const rounds = 10

var (
	raceOnce sync.Once
	raceURL  string
)

// raceStack serves the api behind the gateway with the options of
// `tessera local` (cmd/tessera/local.go).
func raceStack(t *testing.T) (*testenv.Env, string) {
	e := testenv.Setup(t)
	raceOnce.Do(func() {
		v, err := wire.NewVerifier(e.Config, e.Settings)
		if err != nil {
			t.Fatal(err)
		}
		log := slog.New(slog.NewJSONHandler(gwLogSink(), nil))
		app := wire.NewAPI(e.Config, e.Settings, log, io.Discard)
		gw := gateway.New(v, map[route.Function]gateway.Handler{route.FunctionAPI: app.Handler.Handle}, log,
			gateway.WithAuthorizer(wire.NewAuthorizer(e.Config, e.Settings, log).Handle),
			gateway.WithLimits(throttle.New()),
			gateway.WithAuthorizerCache(gateway.AuthorizerCacheTTL, wire.MaxCachedTokens))
		raceURL = httptest.NewServer(gw).URL
	})
	return e, raceURL
}

// raceTenant is a pooled tenant in the premium plan, so that the rounds of
// writers (20 requests at once, several rounds) stay within its rate limit
// (burst 400) and every raceAnswer is the store's.
func raceTenant(t *testing.T, e *testenv.Env) string {
	t.Helper()
	email := fmt.Sprintf("race-%s@race.test", strings.ToLower(tenant.NewID()[2:14]))
	if _, err := seed.Ensure(context.Background(), fixture.SeedDeps(e), seed.Spec{Name: "race", Tier: catalog.TierPremium,
		AdminEmail: email, Password: fixture.Password}); err != nil {
		t.Fatal(err)
	}
	return fixture.Login(t, e, email)
}

var raceClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * writers}}

// raceAnswer is one HTTP reply; err is a transport failure.
type raceAnswer struct {
	status int
	code   string
	body   map[string]any
	raw    string
	err    error
}

func raceSend(url, token, method, path, body string) raceAnswer {
	req, err := http.NewRequest(method, url+path, strings.NewReader(body))
	if err != nil {
		return raceAnswer{err: err}
	}
	req.Header.Set("Authorization", token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := raceClient.Do(req)
	if err != nil {
		return raceAnswer{err: err}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := raceAnswer{status: resp.StatusCode, raw: string(raw)}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &a.body)
		if e, ok := a.body["error"].(map[string]any); ok {
			a.code, _ = e["code"].(string)
		}
	}
	return a
}

// race sends the n requests that req builds at the same moment and returns
// the answers in order.
func race(n int, req func(i int) raceAnswer) []raceAnswer {
	out := make([]raceAnswer, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = req(i)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// tally counts answers by status; any raceAnswer outside want fails the test.
func tally(t *testing.T, what string, got []raceAnswer, want map[int]string) map[int]int {
	t.Helper()
	n := map[int]int{}
	for i, a := range got {
		code, ok := want[a.status]
		if a.err != nil || !ok || (code != "" && a.code != code) {
			t.Fatalf("%s: writer %d got %d %q (%v) %s; want one of %v", what, i, a.status, a.code, a.err, a.raw, want)
		}
		n[a.status]++
	}
	return n
}

func mustProduct(t *testing.T, url, token, sku string) (id string) {
	t.Helper()
	a := raceSend(url, token, "POST", "/v1/products", productJSON(sku))
	if a.status != http.StatusCreated {
		t.Fatalf("create %s: %d %s %v", sku, a.status, a.raw, a.err)
	}
	return a.body["id"].(string)
}

// skuHolders lists the products of the tenant whose SKU is sku.
func skuHolders(t *testing.T, url, token, sku string) []string {
	t.Helper()
	return skuIndex(t, url, token)[sku]
}

// skuIndex lists the tenant's products by SKU.
func skuIndex(t *testing.T, url, token string) map[string][]string {
	t.Helper()
	ids := map[string][]string{}
	cursor := ""
	for {
		path := "/v1/products?limit=100"
		if cursor != "" {
			path += "&cursor=" + neturl.QueryEscape(cursor)
		}
		a := raceSend(url, token, "GET", path, "")
		if a.status != http.StatusOK {
			t.Fatalf("list: %d %s %v", a.status, a.raw, a.err)
		}
		list, _ := a.body["items"].([]any)
		for _, it := range list {
			p := it.(map[string]any)
			sku := p["sku"].(string)
			ids[sku] = append(ids[sku], p["id"].(string))
		}
		if cursor, _ = a.body["nextCursor"].(string); cursor == "" {
			return ids
		}
	}
}

// 20 concurrent creates of one SKU: exactly one 201, every other 409
// sku_conflict, and one product holds the SKU.
func TestConcurrentCreatesOfOneSKUOverHTTP(t *testing.T) {
	e, url := raceStack(t)
	token := raceTenant(t, e)
	for round := 0; round < rounds; round++ {
		sku := fmt.Sprintf("DUP-%d", round)
		got := race(writers, func(int) raceAnswer { return raceSend(url, token, "POST", "/v1/products", productJSON(sku)) })
		n := tally(t, "create "+sku, got, map[int]string{http.StatusCreated: "", http.StatusConflict: edge.CodeSKUConflict})
		if n[http.StatusCreated] != 1 {
			t.Fatalf("round %d: %d of %d concurrent creates of SKU %s answered 201, want exactly 1", round, n[http.StatusCreated], writers, sku)
		}
		if h := skuHolders(t, url, token, sku); len(h) != 1 {
			t.Fatalf("round %d: %d products hold SKU %s, want 1", round, len(h), sku)
		}
	}
}

// 20 concurrent PUTs of one product with the same version: exactly one 200
// (version 2), every other 409 version_conflict, and the winner's write is
// the stored one.
func TestConcurrentUpdatesWithOneVersionOverHTTP(t *testing.T) {
	e, url := raceStack(t)
	token := raceTenant(t, e)
	for round := 0; round < rounds; round++ {
		sku := fmt.Sprintf("VER-%d", round)
		id := mustProduct(t, url, token, sku)
		got := race(writers, func(i int) raceAnswer {
			body := fmt.Sprintf(`{"name":"writer-%d","sku":%q,"price":{"amount":%d,"currency":"EUR"},"version":1}`, i, sku, 100+i)
			return raceSend(url, token, "PUT", "/v1/products/"+id, body)
		})
		n := tally(t, "update "+sku, got, map[int]string{http.StatusOK: "", http.StatusConflict: edge.CodeVersionConflict})
		if n[http.StatusOK] != 1 {
			t.Fatalf("round %d: %d of %d concurrent PUTs with version 1 answered 200, want exactly 1 (a lost update)", round, n[http.StatusOK], writers)
		}
		winner := ""
		for i, a := range got {
			if a.status == http.StatusOK {
				winner = fmt.Sprintf("writer-%d", i)
				if a.body["version"] != float64(2) {
					t.Fatalf("round %d: the winning PUT answered version %v, want 2", round, a.body["version"])
				}
			}
		}
		r := raceSend(url, token, "GET", "/v1/products/"+id, "")
		if r.status != http.StatusOK || r.body["name"] != winner || r.body["version"] != float64(2) {
			t.Fatalf("round %d: stored product %d %s, want %s at version 2", round, r.status, r.raw, winner)
		}
	}
}

// 20 products renamed at once to one SKU: at most one holds it afterwards,
// every other rename is 409 sku_conflict and keeps its old SKU, and the
// winner's old SKU is free again.
func TestConcurrentRenamesToOneSKUOverHTTP(t *testing.T) {
	e, url := raceStack(t)
	token := raceTenant(t, e)
	for round := 0; round < rounds; round++ {
		target := fmt.Sprintf("TARGET-%d", round)
		ids := make([]string, writers)
		created := race(writers, func(i int) raceAnswer {
			return raceSend(url, token, "POST", "/v1/products", productJSON(fmt.Sprintf("OLD-%d-%d", round, i)))
		})
		tally(t, "create", created, map[int]string{http.StatusCreated: ""})
		for i, a := range created {
			ids[i] = a.body["id"].(string)
		}
		got := race(writers, func(i int) raceAnswer {
			body := fmt.Sprintf(`{"name":"Anvil","sku":%q,"price":{"amount":1999,"currency":"EUR"},"version":1}`, target)
			return raceSend(url, token, "PUT", "/v1/products/"+ids[i], body)
		})
		n := tally(t, "rename to "+target, got, map[int]string{http.StatusOK: "", http.StatusConflict: edge.CodeSKUConflict})
		if n[http.StatusOK] > 1 {
			t.Fatalf("round %d: %d of %d concurrent renames to SKU %s answered 200, want at most 1", round, n[http.StatusOK], writers, target)
		}
		index := skuIndex(t, url, token)
		if holders := index[target]; len(holders) != n[http.StatusOK] {
			t.Fatalf("round %d: %d products hold SKU %s after %d successful renames", round, len(holders), target, n[http.StatusOK])
		}
		for i, a := range got {
			old := fmt.Sprintf("OLD-%d-%d", round, i)
			if a.status == http.StatusOK {
				// the old SKU was released in the same transaction
				if r := raceSend(url, token, "POST", "/v1/products", productJSON(old)); r.status != http.StatusCreated {
					t.Fatalf("round %d: the winner's old SKU %s is still taken: %d %s", round, old, r.status, r.raw)
				}
			} else if h := index[old]; len(h) != 1 || h[0] != ids[i] {
				t.Fatalf("round %d: loser %d: SKU %s held by %v, want only %s", round, i, old, h, ids[i])
			}
		}
		if r := raceSend(url, token, "POST", "/v1/products", productJSON(target)); r.status != http.StatusConflict && n[http.StatusOK] == 1 {
			t.Fatalf("round %d: a new product took SKU %s that a rename holds: %d %s", round, target, r.status, r.raw)
		}
	}
}

// 20 concurrent DELETEs of one product: exactly one 204, every other 404
// not_found, and the product and its SKU are gone.
func TestConcurrentDeletesOfOneProductOverHTTP(t *testing.T) {
	e, url := raceStack(t)
	token := raceTenant(t, e)
	for round := 0; round < rounds; round++ {
		sku := fmt.Sprintf("DEL-%d", round)
		id := mustProduct(t, url, token, sku)
		got := race(writers, func(int) raceAnswer { return raceSend(url, token, "DELETE", "/v1/products/"+id, "") })
		n := tally(t, "delete "+sku, got, map[int]string{http.StatusNoContent: "", http.StatusNotFound: edge.CodeNotFound})
		if n[http.StatusNoContent] != 1 {
			t.Fatalf("round %d: %d of %d concurrent DELETEs answered 204, want exactly 1", round, n[http.StatusNoContent], writers)
		}
		if r := raceSend(url, token, "GET", "/v1/products/"+id, ""); r.status != http.StatusNotFound {
			t.Fatalf("round %d: deleted product answers %d", round, r.status)
		}
		mustProduct(t, url, token, sku) // its SKU is free again
	}
}
