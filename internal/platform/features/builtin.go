package features

import (
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/plan"
)

// The entitlements: flags the handlers enforce.
const (
	// Exports: the tenant may export its data (POST /v1/exports).
	Exports = "exports"
	// MaxUsers: the most users a tenant may have (POST /v1/users).
	MaxUsers = "max-users"
	// MaxProducts: the most products a tenant may have (POST /v1/products).
	MaxProducts = "max-products"
)

// Builtins are the definitions a deployment has before any is stored: the
// entitlements, with the per-tier values of internal/platform/plan.
func Builtins() []Flag {
	exports := map[catalog.Tier]any{}
	users := map[catalog.Tier]any{}
	products := map[catalog.Tier]any{}
	for _, t := range plan.Tiers {
		l, _ := plan.For(t)
		exports[t] = l.Exports
		users[t] = int64(l.MaxUsers)
		products[t] = int64(l.MaxProducts)
	}
	return []Flag{
		{Name: Exports, Kind: KindBoolean, Description: "the tenant may export its data (POST /v1/exports)",
			Default: false, TierDefaults: exports},
		{Name: MaxUsers, Kind: KindInteger, Description: "the most users the tenant may have (POST /v1/users)",
			Default: int64(0), TierDefaults: users},
		{Name: MaxProducts, Kind: KindInteger, Description: "the most products the tenant may have (POST /v1/products)",
			Default: int64(0), TierDefaults: products},
	}
}
