package migrations

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/platform/store"
)

// Migration is one numbered change of the item format.
type Migration struct {
	ID   int
	Name string
	// Partition is the partition of the tenant's items that Up and Down
	// walk (store.PartitionProducts, ...).
	Partition string
	Up        Step
	// Down undoes Up; nil when the migration cannot be undone.
	Down Step
}

// Step brings one item of tenantID to a format, and reports whether it
// wrote anything: false for an item already there (idempotency) or gone.
type Step func(ctx context.Context, tx Tx, tenantID string, it store.Item) (bool, error)

// Tx is what a step may do with the tenant's data: store.TenantData,
// scoped to the tenant.
type Tx interface {
	Rewrite(ctx context.Context, ops ...store.Op) error
	GetItems(ctx context.Context, keys []store.Item) ([]store.Item, error)
}

// ErrCollision: an item cannot be migrated because of another item of the
// tenant (two products whose SKUs differ only in case). The tenant's run
// fails with the reason; nothing of that item was written.
var ErrCollision = errors.New("migration: the item collides with another item of the tenant")

// ErrUnknown: no migration has the id or name asked for.
var ErrUnknown = errors.New("migration: no such migration")

// ErrMalformed: an item lacks what the migration needs to read it.
var ErrMalformed = errors.New("migration: malformed item")

// All lists every migration, in order. Append only.
func All() []Migration {
	return []Migration{productSKUKey}
}

// Latest is the number of the newest migration: the format new tenants'
// items are born in.
func Latest() int {
	all := All()
	return all[len(all)-1].ID
}

// Ref is the migration's name as people and targets write it:
// "0001-product-sku-key".
func (m Migration) Ref() string { return fmt.Sprintf("%04d-%s", m.ID, m.Name) }

// Find returns the migration of set that ref names: its number ("1",
// "0001"), its name ("product-sku-key") or both ("0001-product-sku-key").
func Find(set []Migration, ref string) (Migration, error) {
	for _, m := range set {
		if ref == m.Ref() || ref == m.Name {
			return m, nil
		}
		if n, err := strconv.Atoi(ref); err == nil && n == m.ID {
			return m, nil
		}
	}
	return Migration{}, fmt.Errorf("%w: %q (known: %s)", ErrUnknown, ref, strings.Join(refs(set), ", "))
}

func refs(set []Migration) []string {
	out := make([]string, 0, len(set))
	for _, m := range set {
		out = append(out, m.Ref())
	}
	return out
}

// Validate checks that set is numbered 1, 2, 3... with unique names and an
// Up each.
func Validate(set []Migration) error {
	names := map[string]bool{}
	for i, m := range set {
		switch {
		case m.ID != i+1:
			return fmt.Errorf("migration %q is number %d, want %d", m.Name, m.ID, i+1)
		case m.Name == "" || names[m.Name]:
			return fmt.Errorf("migration %d: name %q empty or reused", m.ID, m.Name)
		case m.Up == nil || m.Partition == "":
			return fmt.Errorf("migration %s: no Up or no partition", m.Ref())
		}
		names[m.Name] = true
	}
	return nil
}

// attempts bounds a step's re-reads of an item that concurrent writes keep
// changing.
const attempts = 5

// reread returns the item at it's key as it is now; ok is false when it is
// gone.
func reread(ctx context.Context, tx Tx, it store.Item) (store.Item, bool, error) {
	now, err := tx.GetItems(ctx, []store.Item{store.KeyOf(it)})
	if err != nil {
		return nil, false, fmt.Errorf("read %s again: %w", store.SortKeyOf(it), err)
	}
	if len(now) == 0 {
		return nil, false, nil
	}
	return now[0], true, nil
}

func str(it store.Item, name string) (string, bool) {
	v, ok := it[name].(*types.AttributeValueMemberS)
	if !ok {
		return "", false
	}
	return v.Value, true
}

func with(it store.Item, name string, v types.AttributeValue) store.Item {
	out := maps.Clone(it)
	if v == nil {
		delete(out, name)
	} else {
		out[name] = v
	}
	return out
}
