package features

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
)

// Variants name which rule gave a value.
const (
	VariantOverride = "override"
	VariantRollout  = "rollout"
	VariantDefault  = "default"
	// A tier's value is the variant "tier:<tier>".
	variantTierPrefix = "tier:"
)

// Resolution is a flag's value for one tenant and why.
type Resolution struct {
	Value   any
	Reason  openfeature.Reason
	Variant string
}

// Bucket is the tenant's place, 0 to 99, in the flag's rollout: the first
// eight bytes of SHA-256(flag name, "/", tenant id), modulo 100.
func Bucket(flag, tenantID string) int {
	sum := sha256.Sum256([]byte(flag + "/" + tenantID))
	return int(binary.BigEndian.Uint64(sum[:8]) % 100)
}

// Evaluate resolves f for a tenant: its override (TARGETING_MATCH), else
// the rollout when the tenant is in it (SPLIT), else its tier's value
// (TARGETING_MATCH), else the default (STATIC for a flag with no rules,
// DEFAULT when its rules did not match). override is the tenant's override
// of f, if it has one (ok).
func Evaluate(f Flag, tenantID string, tier catalog.Tier, override any, hasOverride bool) Resolution {
	if hasOverride {
		if v, err := Normalize(f.Kind, override); err == nil {
			return Resolution{Value: v, Reason: openfeature.TargetingMatchReason, Variant: VariantOverride}
		}
	}
	if r := f.Rollout; r != nil && tenantID != "" && Bucket(f.Name, tenantID) < r.Percent {
		return Resolution{Value: r.Value, Reason: openfeature.SplitReason, Variant: VariantRollout}
	}
	if v, ok := f.TierDefaults[tier]; ok {
		return Resolution{Value: v, Reason: openfeature.TargetingMatchReason, Variant: variantTierPrefix + string(tier)}
	}
	reason := openfeature.Reason(openfeature.DefaultReason)
	if f.Rollout == nil && len(f.TierDefaults) == 0 {
		reason = openfeature.StaticReason
	}
	return Resolution{Value: f.Default, Reason: reason, Variant: VariantDefault}
}
