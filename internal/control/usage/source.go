package usage

import (
	"context"
	"fmt"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/metering"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// StoreSource reads the report from the catalog, the ledger, and each
// tenant's own partitions (with its scoped credentials).
type StoreSource struct {
	Catalog *store.Catalog
	Ledger  *store.Ledger
	Data    *store.Store
}

// Tenants lists every tenant, or the one named.
func (s StoreSource) Tenants(ctx context.Context, only string) ([]catalog.Record, error) {
	if only != "" {
		rec, err := s.Catalog.GetTenant(ctx, only)
		if err != nil {
			return nil, err
		}
		return []catalog.Record{rec}, nil
	}
	var out []catalog.Record
	req := store.PageRequest{Limit: 100}
	for {
		page, err := s.Catalog.ListTenants(ctx, req)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.Next == "" {
			return out, nil
		}
		req.Cursor = page.Next
	}
}

// Usage sums the ledger.
func (s StoreSource) Usage(ctx context.Context, tenantID string, from, to time.Time) (metering.Usage, error) {
	return s.Ledger.Totals(ctx, tenantID, from, to)
}

// StoredItems counts the tenant's items where its placement says they are.
func (s StoreSource) StoredItems(ctx context.Context, rec catalog.Record) (int64, error) {
	if rec.Placement.Table == "" {
		return 0, nil
	}
	sc, err := catalog.ActAs(rec)
	if err != nil {
		return 0, fmt.Errorf("count items: %w", err)
	}
	return s.Data.For(sc).CountItems(ctx)
}
