package features

import (
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
)

// Attributes of the evaluation context, beside the targeting key (the
// tenant's id).
const (
	AttrTier   = "tier"
	AttrStatus = "status"
	AttrRegion = "region"
)

// ContextFor is the evaluation context of tenant rec's requests and jobs:
// targeting key its id, attributes its tier, its status and the Region
// serving it. The api function builds it once per request right after it
// reads the tenant's record, and background jobs from the record their
// message names, so that both evaluate alike.
func ContextFor(rec catalog.Record, region string) openfeature.EvaluationContext {
	return openfeature.NewEvaluationContext(rec.TenantID, map[string]any{
		AttrTier:   string(rec.Tier),
		AttrStatus: string(rec.Status),
		AttrRegion: region,
	})
}
