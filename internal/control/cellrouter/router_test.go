package cellrouter_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/control/cellrouter"
	"github.com/tessera-saas/tessera/internal/local/bootstrap"
	"github.com/tessera-saas/tessera/internal/local/gateway"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/apievent"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/cell"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
	"github.com/tessera-saas/tessera/internal/wire"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func quiet() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

// stage is a router in front of two cells on the emulator. Locally both
// cells live in the emulator's one account, told apart by their resources'
// names (tessera-c2-*); in AWS each is an account of its own.
type stage struct {
	e        *testenv.Env
	cells    map[cell.ID]settings.Settings
	servers  map[cell.ID]*httptest.Server
	dir      *store.Directory
	catalogs map[cell.ID]*store.Catalog
}

var (
	stageOnce sync.Once
	shared    *stage
	stageErr  error
)

func newStage(t *testing.T) *stage {
	t.Helper()
	e := testenv.Setup(t)
	stageOnce.Do(func() { shared, stageErr = buildStage(e) })
	if stageErr != nil {
		t.Fatal(stageErr)
	}
	return shared
}

func buildStage(e *testenv.Env) (*stage, error) {
	ctx := context.Background()
	c1 := e.Settings
	c1.Cell = "c1"
	c2, err := bootstrap.Run(ctx, e.Config, bootstrap.ForCell(e.Settings, "c2"))
	if err != nil {
		return nil, fmt.Errorf("bootstrap cell c2: %w", err)
	}
	st := &stage{e: e, cells: map[cell.ID]settings.Settings{"c1": c1, "c2": c2}, servers: map[cell.ID]*httptest.Server{},
		catalogs: map[cell.ID]*store.Catalog{}}
	for id, s := range st.cells {
		s.CatalogTTL = 0
		v, err := wire.NewVerifier(e.Config, s)
		if err != nil {
			return nil, err
		}
		gw := gateway.New(v, map[route.Function]gateway.Handler{route.FunctionTenants: wire.NewTenants(e.Config, s, quiet()).Handle}, quiet())
		st.servers[id] = httptest.NewServer(gw)
		st.catalogs[id] = store.NewCatalog(store.NewClient(e.Config), s.CatalogTable)
	}
	table := "tessera-test-cells"
	if err := bootstrap.EnsureDirectory(ctx, e.Config, table); err != nil {
		return nil, err
	}
	st.dir = store.NewDirectory(store.NewClient(e.Config), table)
	return st, nil
}

// router returns a router over the two cells with these capacities (0: the
// default), giving out ids in order.
func (st *stage) router(t *testing.T, capacity map[cell.ID]int, ids ...string) *cellrouter.Handler {
	t.Helper()
	var cs []cell.Cell
	for _, id := range []cell.ID{"c1", "c2"} {
		cs = append(cs, cell.Cell{ID: id, API: st.servers[id].URL, Open: true, Capacity: capacity[id]})
	}
	m, err := cell.New(cs...)
	if err != nil {
		t.Fatal(err)
	}
	v, err := wire.NewVerifier(st.e.Config, st.e.Settings)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	next := 0
	return cellrouter.New(st.dir, m, v, nil, quiet()).WithIDs(func() string {
		mu.Lock()
		defer mu.Unlock()
		if next >= len(ids) {
			t.Errorf("the router asked for more ids than the test gave (%d)", len(ids))
			return tenant.NewID()
		}
		next++
		return ids[next-1]
	})
}

// idsFor returns n fresh tenant ids that the placement rule sends first to
// want (of the open cells c1, c2).
func idsFor(want cell.ID, n int) []string {
	var out []string
	for len(out) < n {
		id := tenant.NewID()
		if []cell.ID{"c1", "c2"}[cell.Index(id, 2)] == want {
			out = append(out, id)
		}
	}
	return out
}

func createEvent(t *testing.T, name, key string) events.APIGatewayProxyRequest {
	ev := apievent.Operator(t, "POST", "/v1/tenants", nil,
		fmt.Sprintf(`{"name":%q,"tier":"basic","adminEmail":"admin@%s.test"}`, name, name), "operators")
	if key != "" {
		ev.Headers["Idempotency-Key"] = key
	}
	return ev
}

func (st *stage) count(t *testing.T, id cell.ID) int {
	t.Helper()
	n, err := st.dir.Counts(context.Background(), []cell.ID{id})
	if err != nil {
		t.Fatal(err)
	}
	return n[id]
}

// inCell reports whether the tenant has a record in cell id's catalog, and
// the cell its placement names.
func (st *stage) inCell(t *testing.T, id cell.ID, tenantID string) (bool, string) {
	t.Helper()
	rec, err := st.catalogs[id].GetTenant(context.Background(), tenantID)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return false, ""
		}
		t.Fatal(err)
	}
	return true, rec.Placement.Cell
}

func TestCreatePlacesEachTenantInOneCellAndRoutesItsRequestsThere(t *testing.T) {
	st := newStage(t)
	ids := append(idsFor("c1", 2), idsFor("c2", 2)...)
	r := st.router(t, nil, ids...)
	before := map[cell.ID]int{"c1": st.count(t, "c1"), "c2": st.count(t, "c2")}
	want := map[string]cell.ID{ids[0]: "c1", ids[1]: "c1", ids[2]: "c2", ids[3]: "c2"}
	for i, id := range ids {
		res := apievent.Do(t, r.Handle, createEvent(t, fmt.Sprintf("cellco%d", i), ""))
		if res.Status != http.StatusAccepted || res.Body["tenantId"] != id {
			t.Fatalf("create %d = %d %+v, want 202 for %s", i, res.Status, res.Body, id)
		}
		if got := res.Body["placement"].(map[string]any)["cell"]; got != string(want[id]) {
			t.Errorf("tenant %s: placement.cell = %v, want %s", id, got, want[id])
		}
		p, err := st.dir.Lookup(context.Background(), id)
		if err != nil || p.Cell != want[id] {
			t.Errorf("directory: %s -> %+v, %v; want %s", id, p, err, want[id])
		}
		for _, c := range []cell.ID{"c1", "c2"} {
			found, recCell := st.inCell(t, c, id)
			if found != (c == want[id]) {
				t.Errorf("tenant %s in cell %s's catalog: %v, want %v", id, c, found, c == want[id])
			}
			if found && recCell != string(c) {
				t.Errorf("tenant %s in cell %s records cell %q", id, c, recCell)
			}
		}
	}
	for _, c := range []cell.ID{"c1", "c2"} {
		if got := st.count(t, c) - before[c]; got != 2 {
			t.Errorf("cell %s count grew by %d, want 2", c, got)
		}
	}
	// Requests about a tenant reach its cell.
	for _, id := range ids {
		get := apievent.Do(t, r.Handle, apievent.Operator(t, "GET", "/v1/tenants/{id}", map[string]string{"id": id}, "", "operators"))
		if get.Status != http.StatusOK || get.Body["tenantId"] != id {
			t.Fatalf("GET %s through the router = %d %+v", id, get.Status, get.Body)
		}
	}
	susp := apievent.Do(t, r.Handle, apievent.Operator(t, "POST", "/v1/tenants/{id}/suspend", map[string]string{"id": ids[2]}, `{"reason":"test"}`, "operators"))
	// The tenant is still PROVISIONING (no provisioner runs here): the cell's
	// own answer comes back through the router.
	if susp.Status != http.StatusConflict || susp.Code != edge.CodeInvalidState {
		t.Errorf("suspend through the router = %d %s, want the cell's 409 invalid_state", susp.Status, susp.Code)
	}
	// A list names its cell.
	list := apievent.Operator(t, "GET", "/v1/tenants", nil, "", "operators")
	if res := apievent.Do(t, r.Handle, list); res.Status != http.StatusBadRequest || res.Code != edge.CodeCellRequired {
		t.Errorf("list without ?cell = %d %s, want 400 cell_required", res.Status, res.Code)
	}
	list.QueryStringParameters = map[string]string{"cell": "c2", "limit": "100"}
	res := apievent.Do(t, r.Handle, list)
	if res.Status != http.StatusOK {
		t.Fatalf("list of c2 = %d %+v", res.Status, res.Body)
	}
	seen := map[string]bool{}
	for _, it := range res.Body["items"].([]any) {
		seen[it.(map[string]any)["tenantId"].(string)] = true
	}
	if !seen[ids[2]] || !seen[ids[3]] || seen[ids[0]] || seen[ids[1]] {
		t.Errorf("list of c2 holds %v: want %s and %s, not the c1 tenants", seen, ids[2], ids[3])
	}
	list.QueryStringParameters = map[string]string{"cell": "c7"}
	if res := apievent.Do(t, r.Handle, list); res.Status != http.StatusBadRequest || res.Code != edge.CodeValidation {
		t.Errorf("list of an unknown cell = %d %s, want 400", res.Status, res.Code)
	}
	unknown := apievent.Do(t, r.Handle, apievent.Operator(t, "GET", "/v1/tenants/{id}", map[string]string{"id": tenant.NewID()}, "", "operators"))
	if unknown.Status != http.StatusNotFound || unknown.Code != edge.CodeNotFound {
		t.Errorf("GET of an unplaced tenant = %d %s, want 404 not_found", unknown.Status, unknown.Code)
	}
}

func TestFullCellsSendNewTenantsOnAndNoneIsOverfilled(t *testing.T) {
	st := newStage(t)
	// c2 may take as many tenants as it has now plus 3; c1 as many as it
	// has plus 2. 20 concurrent creates that all prefer c2 can place 5.
	capC1, capC2 := st.count(t, "c1")+2, st.count(t, "c2")+3
	ids := idsFor("c2", 20)
	r := st.router(t, map[cell.ID]int{"c1": capC1, "c2": capC2}, ids...)
	var wg sync.WaitGroup
	results := make([]apievent.Result, len(ids))
	for i := range ids {
		ev := createEvent(t, fmt.Sprintf("fullco%d", i), "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = apievent.Do(t, r.Handle, ev)
		}()
	}
	wg.Wait()
	placed, full := map[cell.ID]int{}, 0
	for i, res := range results {
		switch res.Status {
		case http.StatusAccepted:
			placed[cell.ID(res.Body["placement"].(map[string]any)["cell"].(string))]++
		case http.StatusServiceUnavailable:
			if res.Code != edge.CodeCellsFull {
				t.Errorf("create %d = 503 %s, want cells_full", i, res.Code)
			}
			full++
		default:
			t.Errorf("create %d = %d %+v", i, res.Status, res.Body)
		}
	}
	// The refused creates left no placement: only the 5 placed ids are in
	// the directory.
	inDir := 0
	for _, id := range ids {
		if _, err := st.dir.Lookup(context.Background(), id); err == nil {
			inDir++
		} else if !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
	}
	if inDir != 5 {
		t.Errorf("%d of the 20 ids are in the directory, want the 5 placed", inDir)
	}
	if placed["c2"] != 3 || placed["c1"] != 2 || full != 15 {
		t.Errorf("placed %v and %d refused; want c2 3, c1 2 (its second choice) and 15 cells_full", placed, full)
	}
	if st.count(t, "c1") != capC1 || st.count(t, "c2") != capC2 {
		t.Errorf("counts c1 %d c2 %d, want the capacities %d and %d", st.count(t, "c1"), st.count(t, "c2"), capC1, capC2)
	}
}

func TestBadInputWritesNothing(t *testing.T) {
	st := newStage(t)
	ids := idsFor("c1", 3)
	r := st.router(t, nil, ids...)
	before := st.count(t, "c1") + st.count(t, "c2")
	for _, c := range []struct{ name, body, code string }{
		{"no tier", `{"name":"x","adminEmail":"a@x.test"}`, edge.CodeValidation},
		{"bad email", `{"name":"x","tier":"basic","adminEmail":"nope"}`, edge.CodeValidation},
		{"unknown field", `{"name":"x","tier":"basic","adminEmail":"a@x.test","cel":"c2"}`, edge.CodeUnknownField},
		{"tenant id from the caller", `{"name":"x","tier":"basic","adminEmail":"a@x.test","tenantId":"acme"}`, edge.CodeValidation},
		{"malformed", `{"name":`, edge.CodeMalformedJSON},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev := apievent.Operator(t, "POST", "/v1/tenants", nil, c.body, "operators")
			res := apievent.Do(t, r.Handle, ev)
			if res.Status != http.StatusBadRequest || res.Code != c.code {
				t.Errorf("= %d %s, want 400 %s", res.Status, res.Code, c.code)
			}
		})
	}
	if after := st.count(t, "c1") + st.count(t, "c2"); after != before {
		t.Errorf("bad input changed the cells' counts from %d to %d", before, after)
	}
	// Not an operator: 403 before anything.
	ev := apievent.Operator(t, "POST", "/v1/tenants", nil, `{"name":"x","tier":"basic","adminEmail":"a@x.test"}`, "staff")
	if res := apievent.Do(t, r.Handle, ev); res.Status != http.StatusForbidden {
		t.Errorf("create by a non-operator = %d, want 403", res.Status)
	}
	if after := st.count(t, "c1") + st.count(t, "c2"); after != before {
		t.Errorf("a refused caller changed the counts from %d to %d", before, after)
	}
}

func TestACellsRefusalTakesThePlacementBack(t *testing.T) {
	st := newStage(t)
	// A tenant with this id already exists in c1: the cell answers 409.
	id := idsFor("c1", 1)[0]
	direct := wire.NewTenants(st.e.Config, st.cells["c1"], quiet())
	pre := apievent.Operator(t, "POST", "/v1/tenants", nil, fmt.Sprintf(`{"name":"pre","tier":"basic","adminEmail":"a@pre.test","tenantId":%q}`, id), "operators")
	if res := apievent.Do(t, direct.Handle, pre); res.Status != http.StatusAccepted {
		t.Fatalf("direct create = %d %+v", res.Status, res.Body)
	}
	before := st.count(t, "c1")
	r := st.router(t, nil, id)
	res := apievent.Do(t, r.Handle, createEvent(t, "clash", ""))
	if res.Status != http.StatusConflict || res.Code != edge.CodeTenantExists {
		t.Fatalf("create = %d %s, want the cell's 409 tenant_exists", res.Status, res.Code)
	}
	if _, err := st.dir.Lookup(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused create's placement is still there (%v)", err)
	}
	if got := st.count(t, "c1"); got != before {
		t.Errorf("c1 count = %d after a refused create, want %d", got, before)
	}
}

func TestAnUnansweredCreateKeepsItsPlacementForTheRetry(t *testing.T) {
	st := newStage(t)
	id := idsFor("c2", 1)[0]
	// c2 is down: a server that closes every connection.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
	}))
	defer down.Close()
	m, _ := cell.New(cell.Cell{ID: "c1", API: st.servers["c1"].URL, Open: true}, cell.Cell{ID: "c2", API: down.URL, Open: true})
	v, err := wire.NewVerifier(st.e.Config, st.e.Settings)
	if err != nil {
		t.Fatal(err)
	}
	before := st.count(t, "c2")
	r := cellrouter.New(st.dir, m, v, nil, quiet()).WithIDs(func() string { return id })
	ev := createEvent(t, "retryco", "retry-"+id)
	res := apievent.Do(t, r.Handle, ev)
	if res.Status != http.StatusBadGateway || res.Code != edge.CodeCellUnavailable {
		t.Fatalf("create with c2 down = %d %s, want 502 cell_unavailable", res.Status, res.Code)
	}
	if p, err := st.dir.Lookup(context.Background(), id); err != nil || p.Cell != "c2" {
		t.Fatalf("placement after a lost answer = %+v, %v; want kept in c2", p, err)
	}
	// c2 is back: the retry with the same key creates the same tenant there,
	// and the cell is counted once.
	r = st.router(t, nil, tenant.NewID(), tenant.NewID()) // other ids: the key must win
	res = apievent.Do(t, r.Handle, ev)
	if res.Status != http.StatusAccepted || res.Body["tenantId"] != id {
		t.Fatalf("retry = %d %+v, want 202 for %s", res.Status, res.Body, id)
	}
	again := apievent.Do(t, r.Handle, ev)
	if again.Status != http.StatusOK || again.Body["tenantId"] != id {
		t.Errorf("second retry = %d %+v, want the cell's 200 replay", again.Status, again.Body)
	}
	if got := st.count(t, "c2") - before; got != 1 {
		t.Errorf("c2 count grew by %d, want 1", got)
	}
	if found, _ := st.inCell(t, "c2", id); !found {
		t.Error("the tenant is not in c2's catalog")
	}
}

func TestPlacementTellsAUserItsCellAndCellsServeOnlyTheirOwn(t *testing.T) {
	st := newStage(t)
	id := idsFor("c2", 1)[0]
	r := st.router(t, nil, id)
	if res := apievent.Do(t, r.Handle, createEvent(t, "whereco", "")); res.Status != http.StatusAccepted {
		t.Fatalf("create = %d %+v", res.Status, res.Body)
	}
	ev := apievent.Request(t, id, "GET", "/v1/placement", nil, "")
	res := apievent.Do(t, r.Handle, ev)
	if res.Status != http.StatusOK || res.Body["cell"] != "c2" || res.Body["apiUrl"] != st.servers["c2"].URL || res.Body["tenantId"] != id {
		t.Errorf("placement = %d %+v, want c2 at %s", res.Status, res.Body, st.servers["c2"].URL)
	}
	other := apievent.Do(t, r.Handle, apievent.Request(t, tenant.NewID(), "GET", "/v1/placement", nil, ""))
	if other.Status != http.StatusNotFound {
		t.Errorf("placement of an unplaced tenant = %d, want 404", other.Status)
	}
	// Cells cannot be crossed: c1's tenant API does not know c2's tenant.
	api := wire.NewAPI(st.e.Config, st.cells["c1"], quiet(), nil)
	cross := apievent.Do(t, api.Handler.Handle, apievent.Request(t, id, "GET", "/v1/products", nil, ""))
	if cross.Status != http.StatusForbidden && cross.Status != http.StatusUnauthorized {
		t.Errorf("c2's tenant on c1's API = %d %s, want refused", cross.Status, cross.Code)
	}
	// The cells, with their counts.
	cells := apievent.Do(t, r.Handle, apievent.Operator(t, "GET", "/v1/cells", nil, "", "operators"))
	if cells.Status != http.StatusOK {
		t.Fatalf("cells = %d", cells.Status)
	}
	for _, it := range cells.Body["items"].([]any) {
		c := it.(map[string]any)
		if int(c["tenants"].(float64)) != st.count(t, cell.ID(c["id"].(string))) || c["capacity"].(float64) != cell.MaxTenants {
			t.Errorf("cell view %+v", c)
		}
	}
	if res := apievent.Do(t, r.Handle, apievent.Request(t, id, "GET", "/v1/cells", nil, "")); res.Status != http.StatusForbidden {
		t.Errorf("cells for a tenant user = %d, want 403", res.Status)
	}
}

// The router API over HTTP, as `tessera up --cells` serves it: the local
// gateway with the router's route table, every route behind the user pool
// authorizer (no Lambda authorizer, no API keys), no cell route on it.
func TestRouterAPIOverHTTP(t *testing.T) {
	st := newStage(t)
	id := idsFor("c1", 1)[0]
	r := st.router(t, nil, id)
	v, err := wire.NewVerifier(st.e.Config, st.e.Settings)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gateway.New(v, map[route.Function]gateway.Handler{route.FunctionRouter: r.Handle}, quiet(), gateway.WithRoutes(route.Router)))
	defer srv.Close()
	if res := apievent.Do(t, r.Handle, createEvent(t, "httpco", "")); res.Status != http.StatusAccepted {
		t.Fatalf("create = %d %+v", res.Status, res.Body)
	}
	token := tenant.AuthorizationHeader(apievent.Request(t, id, "GET", "/v1/placement", nil, "").Headers, nil)
	get := func(path, tok string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/v1/placement", token); code != http.StatusOK || !strings.Contains(body, `"cell":"c1"`) {
		t.Errorf("GET /v1/placement = %d %s, want 200 naming c1", code, body)
	}
	if code, _ := get("/v1/placement", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/placement without a token = %d, want 401", code)
	}
	if code, body := get("/v1/products", token); code != http.StatusNotFound || !strings.Contains(body, edge.CodeRouteNotFound) {
		t.Errorf("a tenant route on the router = %d %s, want 404 route_not_found", code, body)
	}
}
