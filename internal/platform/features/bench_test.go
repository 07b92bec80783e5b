package features_test

import (
	"context"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/features"
)

// BenchmarkEvaluateWarm is one entitlement check as a handler makes it:
// the OpenFeature client, the request's transaction context, definitions
// and the tenant's record already cached (no AWS call).
func BenchmarkEvaluateWarm(b *testing.B) {
	rec := catalog.Record{TenantID: "t-bench", Tier: catalog.TierStandard, Status: catalog.StatusActive,
		FlagOverrides: map[string]any{features.MaxProducts: float64(50)}}
	c, err := features.NewClient(context.Background(),
		features.NewProvider(features.NewDefinitions(&stored{}, time.Minute), records{rec.TenantID: rec}))
	if err != nil {
		b.Fatal(err)
	}
	ctx := in(rec)
	b.Run("client", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if v, err := c.IntValue(ctx, features.MaxProducts, -1, openfeature.EvaluationContext{}); err != nil || v != 50 {
				b.Fatalf("max-products = %d, %v", v, err)
			}
		}
	})
	// The provider alone, with the context the SDK flattens: what of the
	// above is Tessera's.
	p := features.NewProvider(features.NewDefinitions(&stored{}, time.Minute), records{rec.TenantID: rec})
	flat := openfeature.FlattenedContext{openfeature.TargetingKey: rec.TenantID, "tier": string(rec.Tier), "status": string(rec.Status)}
	b.Run("provider", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if d := p.IntEvaluation(ctx, features.MaxProducts, -1, flat); d.Value != 50 {
				b.Fatalf("max-products = %+v", d)
			}
		}
	})
}
