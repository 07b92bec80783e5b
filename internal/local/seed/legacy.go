package seed

import (
	"context"
	"maps"
	"time"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/platform/entityid"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// LegacyProducts writes products in item format 1, as the release before
// data migration 0001 wrote them: no skuKey, and only the exact SKU
// reserved. Tests and benchmarks of the fleet runner start from them. It
// returns the products' ids, in the order of skus.
func LegacyProducts(ctx context.Context, d store.TenantData, tenantID string, skus []string) ([]string, error) {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	n := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberN{Value: v} }
	puts := make([]store.Item, 0, 2*len(skus))
	ids := make([]string, 0, len(skus))
	for _, sku := range skus {
		id := entityid.New()
		p := store.KeyIn(tenantID, store.PartitionProducts, id)
		maps.Copy(p, store.Item{"name": s("Anvil " + sku), "sku": s(sku), "priceAmount": n("1999"),
			"priceCurrency": s("EUR"), "description": s(""), "version": n("1"), "createdAt": s(now), "updatedAt": s(now)})
		r := store.KeyIn(tenantID, store.PartitionSKUs, sku)
		r["productId"] = s(id)
		puts = append(puts, p, r)
		ids = append(ids, id)
	}
	return ids, d.WriteItems(ctx, puts, nil)
}
