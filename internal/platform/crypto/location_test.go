package crypto_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/crypto"
)

// A restore into a new table, or a tier migration between the pool and a
// dedicated table, moves items with their sealed fields: a value opens at
// its own item and attribute of its own tenant in whichever table holds it,
// and still nowhere else.
func TestSealedValuesFollowTheirItemToAnotherTable(t *testing.T) {
	c, tn := setup(t)
	ctx := context.Background()
	f := tn.field("customer")
	sealed, err := crypto.NewEnvelope(c).Seal(ctx, tn.key, f, []byte(`{"name":"Ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"tessera-prod-tenant-" + tn.id, "tessera-prod-pooled", "tessera-restore-0001"} {
		moved := f
		moved.Table = table
		got, err := crypto.NewEnvelope(c).Open(ctx, tn.key, moved, sealed)
		if err != nil || string(got) != `{"name":"Ada"}` {
			t.Errorf("open in %s = %q, %v; want the plaintext", table, got, err)
		}
	}
	moved := f
	moved.Table, moved.SK = "tessera-prod-tenant-"+tn.id, "c-02"
	if _, err := crypto.NewEnvelope(c).Open(ctx, tn.key, moved, sealed); !errors.Is(err, crypto.ErrIntegrity) {
		t.Errorf("open at another item of another table = %v, want ErrIntegrity", err)
	}
}

// Values written before version 2 bind their table: they keep opening there,
// and only there.
func TestVersion1ValuesKeepOpeningInTheirTable(t *testing.T) {
	c, tn := setup(t)
	ctx := context.Background()
	f := tn.field("customer")
	old, err := crypto.SealVersion1(crypto.NewEnvelope(c), ctx, tn.key, f, []byte("before"))
	if err != nil {
		t.Fatal(err)
	}
	if old[0] != 1 {
		t.Fatalf("SealVersion1 wrote version %d", old[0])
	}
	got, err := crypto.NewEnvelope(c).Open(ctx, tn.key, f, old)
	if err != nil || string(got) != "before" {
		t.Fatalf("open a version 1 value = %q, %v", got, err)
	}
	moved := f
	moved.Table = "tessera-prod-tenant-" + tn.id
	if _, err := crypto.NewEnvelope(c).Open(ctx, tn.key, moved, old); !errors.Is(err, crypto.ErrIntegrity) {
		t.Errorf("a version 1 value opened in another table: %v", err)
	}
	v2, err := crypto.NewEnvelope(c).Seal(ctx, tn.key, f, []byte("after"))
	if err != nil || v2[0] != 2 {
		t.Fatalf("Seal wrote version %d (%v), want 2", v2[0], err)
	}
}
