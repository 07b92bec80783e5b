package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// TestLeaseIsExclusivePerOwner: owners are per message ("process/message"),
// so a second message of the same process is refused while the first holds
// the tenant; only the holder renews or releases; a lapsed lease can be
// taken, and then the old holder can neither renew nor release it.
func TestLeaseIsExclusivePerOwner(t *testing.T) {
	h := newHarness(t)
	cat := store.NewCatalog(h.ddb, h.e.Settings.CatalogTable)
	id := tenant.NewID()
	now := time.Now().UTC()
	if err := cat.CreateTenant(bg, catalog.Record{TenantID: id, Name: "L", Tier: catalog.TierBasic, Status: catalog.StatusProvisioning,
		CreatedAt: now, UpdatedAt: now, Version: 1}); err != nil {
		t.Fatal(err)
	}
	const first, second = "provisioner-p1/m-1", "provisioner-p1/m-2"
	if err := cat.Lease(bg, id, first, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := cat.Lease(bg, id, first, time.Minute); err != nil {
		t.Fatalf("the holder leasing again: %v", err)
	}
	if err := cat.Lease(bg, id, second, time.Minute); !errors.Is(err, store.ErrLeased) {
		t.Fatalf("another message of the same process: %v, want ErrLeased", err)
	}
	if err := cat.Renew(bg, id, second, time.Minute); !errors.Is(err, store.ErrLeased) {
		t.Fatalf("a non-holder renewing: %v, want ErrLeased", err)
	}
	if err := cat.Release(bg, id, second); err != nil {
		t.Fatalf("a non-holder releasing: %v", err)
	}
	if err := cat.Lease(bg, id, second, time.Minute); !errors.Is(err, store.ErrLeased) {
		t.Fatalf("after a non-holder's release: %v, want the lease still held", err)
	}
	if err := cat.Renew(bg, id, first, time.Minute); err != nil {
		t.Fatalf("the holder renewing: %v", err)
	}
	if err := cat.Release(bg, id, first); err != nil {
		t.Fatal(err)
	}
	if err := cat.Lease(bg, id, second, time.Minute); err != nil {
		t.Fatalf("after the holder's release: %v", err)
	}
	// A lapsed lease is free for the taking; its old holder has lost it.
	later := cat.WithClock(func() time.Time { return time.Now().Add(2 * time.Minute) })
	if err := later.Lease(bg, id, first, time.Minute); err != nil {
		t.Fatalf("taking a lapsed lease: %v", err)
	}
	if err := later.Renew(bg, id, second, time.Minute); !errors.Is(err, store.ErrLeased) {
		t.Fatalf("the old holder renewing a lease taken over: %v, want ErrLeased", err)
	}
	if err := later.Release(bg, id, second); err != nil {
		t.Fatal(err)
	}
	if err := cat.Lease(bg, id, second, time.Minute); !errors.Is(err, store.ErrLeased) {
		t.Fatalf("the old holder's release freed the new holder's lease: %v", err)
	}
}

// TestExpiredIdempotencyKeysNoLongerReplay: a key replays its create for
// IdempotencyTTL and is absent after it, even while the item still exists
// (DynamoDB deletes expired items late, emulators never).
func TestExpiredIdempotencyKeysNoLongerReplay(t *testing.T) {
	h := newHarness(t)
	cat := store.NewCatalog(h.ddb, h.e.Settings.CatalogTable)
	idem := store.Idempotency{Owner: "op-" + tenant.NewID()[2:12], Key: "k-1", RequestHash: "h"}
	rec := func() catalog.Record {
		now := time.Now().UTC()
		return catalog.Record{TenantID: tenant.NewID(), Name: "I", Tier: catalog.TierBasic, Status: catalog.StatusProvisioning, CreatedAt: now, UpdatedAt: now, Version: 1}
	}
	first, replayed, err := cat.Create(bg, rec(), idem, nil, nil)
	if err != nil || replayed {
		t.Fatalf("first create: %v %v", replayed, err)
	}
	again, replayed, err := cat.Create(bg, rec(), idem, nil, nil)
	if err != nil || !replayed || again.TenantID != first.TenantID {
		t.Fatalf("retry within the TTL: %s replayed=%v %v, want %s", again.TenantID, replayed, err, first.TenantID)
	}
	later := cat.WithClock(func() time.Time { return time.Now().Add(store.IdempotencyTTL + time.Minute) })
	fresh, replayed, err := later.Create(bg, rec(), idem, nil, nil)
	if err != nil || replayed || fresh.TenantID == first.TenantID {
		t.Fatalf("after the TTL: %s replayed=%v %v, want a new tenant", fresh.TenantID, replayed, err)
	}
	// The key now replays the new tenant.
	if got, replayed, err := later.Create(bg, rec(), idem, nil, nil); err != nil || !replayed || got.TenantID != fresh.TenantID {
		t.Fatalf("retry of the new create: %s replayed=%v %v, want %s", got.TenantID, replayed, err, fresh.TenantID)
	}
	// Another operator's same key is its own.
	other := idem
	other.Owner += "-b"
	if got, replayed, err := cat.Create(bg, rec(), other, nil, nil); err != nil || replayed {
		t.Fatalf("another owner's key: %s replayed=%v %v, want a new tenant", got.TenantID, replayed, err)
	}
}
