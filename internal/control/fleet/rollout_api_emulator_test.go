package fleet_test

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/tessera-saas/tessera/internal/control/fleet"
	"github.com/tessera-saas/tessera/internal/local/testenv/apievent"
	"github.com/tessera-saas/tessera/internal/platform/product"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/wire"
)

// TestTheAPIKeepsWorkingDuringTheRollout: expand/contract. While the
// migration walks a tenant's 300 format-1 products, its API creates,
// renames, reprices, deletes, reads and lists products (format 1 and 2
// side by side). Every request succeeds, and afterwards every product is
// in format 2 and every SKU reservation belongs to a product that holds it.
func TestTheAPIKeepsWorkingDuringTheRollout(t *testing.T) {
	h := newHarness(t)
	rec := h.tenant(t, "fleet-live", false)
	ids := h.legacy(t, rec, "live", 300, false)
	api := wire.NewAPI(h.e.Config, h.e.Settings, slog.New(slog.NewJSONHandler(io.Discard, nil)), nil)
	do := func(method, resource string, params map[string]string, body string) apievent.Result {
		return apievent.Do(t, api.Handler.Handle, apievent.Request(t, rec.TenantID, method, resource, params, body))
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	fail := func(f string, a ...any) { mu.Lock(); failures = append(failures, fmt.Sprintf(f, a...)); mu.Unlock() }
	requests := 0
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				requests++
				mu.Unlock()
				legacyID := ids[(w*97+n*7)%len(ids)]
				switch n % 5 {
				case 0: // a new product, in format 2
					if r := do("POST", "/v1/products", nil, fmt.Sprintf(`{"name":"New","sku":"New-%d-%d","price":{"amount":5,"currency":"EUR"}}`, w, n)); r.Status != 201 {
						fail("create: %d %s", r.Status, r.Code)
					}
				case 1: // a reprice of a format-1 (or just migrated) product
					r := do("GET", "/v1/products/{id}", map[string]string{"id": legacyID}, "")
					if r.Status == 404 {
						continue // deleted by case 3
					}
					if r.Status != 200 {
						fail("get: %d %s", r.Status, r.Code)
						continue
					}
					body := fmt.Sprintf(`{"name":"Repriced","sku":%q,"price":{"amount":%d,"currency":"EUR"},"version":%v}`, r.Body["sku"], n, r.Body["version"])
					if u := do("PUT", "/v1/products/{id}", map[string]string{"id": legacyID}, body); u.Status != 200 && u.Code != "version_conflict" && u.Status != 404 {
						fail("reprice: %d %s", u.Status, u.Code)
					}
				case 2: // a rename, which moves the reservations
					r := do("GET", "/v1/products/{id}", map[string]string{"id": legacyID}, "")
					if r.Status != 200 {
						continue
					}
					body := fmt.Sprintf(`{"name":"Renamed","sku":"Ren-%d-%d","price":{"amount":1,"currency":"EUR"},"version":%v}`, w, n, r.Body["version"])
					if u := do("PUT", "/v1/products/{id}", map[string]string{"id": legacyID}, body); u.Status != 200 && u.Code != "version_conflict" && u.Status != 404 {
						fail("rename: %d %s", u.Status, u.Code)
					}
				case 3:
					if n%15 == 3 { // now and then a delete
						if r := do("DELETE", "/v1/products/{id}", map[string]string{"id": legacyID}, ""); r.Status != 204 && r.Status != 404 {
							fail("delete: %d %s", r.Status, r.Code)
						}
					}
				case 4:
					if r := do("GET", "/v1/products", nil, ""); r.Status != 200 {
						fail("list: %d %s", r.Status, r.Code)
					}
				}
			}
		}()
	}
	r := h.runner(t, fleet.Deps{PageSize: 20})
	target, _ := r.Target("0001")
	rep, err := r.Apply(bg, target, fleet.Options{Wave: -1, Actor: "ops"})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("apply: %v (%+v)", err, rep)
	}
	if len(failures) > 0 {
		t.Fatalf("%d of %d requests failed during the rollout: %v", len(failures), requests, failures[:min(5, len(failures))])
	}
	t.Logf("%d requests during the rollout", requests)

	raw := h.raw(t, rec.TenantID)
	holds := map[string]string{} // reservation sk -> product id
	products := 0
	for k, it := range raw {
		switch {
		case strings.HasPrefix(k, store.PartitionProducts+"/"):
			products++
			sku := str(it, "sku")
			if str(it, "skuKey") != product.SKUKey(sku) {
				t.Errorf("%s not in format 2: %v", k, it)
			}
			holds[sku] = store.SortKeyOf(it)
			holds[product.SKUKey(sku)] = store.SortKeyOf(it)
		}
	}
	for k, it := range raw {
		if sk, ok := strings.CutPrefix(k, store.PartitionSKUs+"/"); ok && holds[sk] != str(it, "productId") {
			t.Errorf("reservation %s names %s, but the product holding that sku is %q", sk, str(it, "productId"), holds[sk])
		}
	}
	for sk, id := range holds {
		if got := raw[store.PartitionSKUs+"/"+sk]; str(got, "productId") != id {
			t.Errorf("product %s holds sku %s without its reservation", id, sk)
		}
	}
	if products < 300 {
		t.Errorf("%d products, want at least 300", products)
	}
}
