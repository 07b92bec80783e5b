package features

import (
	"context"
	"fmt"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
)

// Tenants reads tenant records (a catalog.Cache: a warm read makes no AWS
// call).
type Tenants interface {
	Get(ctx context.Context, tenantID string) (catalog.Record, error)
}

// ProviderName is the provider's name in OpenFeature's metadata.
const ProviderName = "tessera-catalog"

// Provider is the OpenFeature provider of Tessera's flags: definitions
// from Definitions, overrides from the tenant's catalog record (Tenants),
// the tier from the evaluation context (ContextFor). Its Init makes no AWS
// call: definitions are read on the first evaluation.
type Provider struct {
	defs    *Definitions
	tenants Tenants
}

var _ openfeature.FeatureProvider = (*Provider)(nil)

// NewProvider returns the provider. tenants may be nil: no overrides.
func NewProvider(defs *Definitions, tenants Tenants) *Provider {
	return &Provider{defs: defs, tenants: tenants}
}

// Metadata names the provider.
func (p *Provider) Metadata() openfeature.Metadata { return openfeature.Metadata{Name: ProviderName} }

// Hooks: none.
func (p *Provider) Hooks() []openfeature.Hook { return nil }

// Init makes no call: the provider is ready at once.
func (p *Provider) Init(openfeature.EvaluationContext) error { return nil }

// Shutdown has nothing to release.
func (p *Provider) Shutdown() {}

// Resolve evaluates flag for the context flat: the flag's definition, the
// tenant's override and resolution. The error is a resolution error
// (FLAG_NOT_FOUND, TARGETING_KEY_MISSING, GENERAL).
func (p *Provider) Resolve(ctx context.Context, flag string, flat openfeature.FlattenedContext) (Flag, Resolution, *openfeature.ResolutionError) {
	f, ok, err := p.defs.Get(ctx, flag)
	if err != nil {
		re := openfeature.NewGeneralResolutionError("flag definitions could not be read", err)
		return Flag{}, Resolution{}, &re
	}
	if !ok {
		re := openfeature.NewFlagNotFoundResolutionError(fmt.Sprintf("no flag %q", flag))
		return Flag{}, Resolution{}, &re
	}
	tenantID, _ := flat[openfeature.TargetingKey].(string)
	tier, _ := flat[AttrTier].(string)
	var override any
	has := false
	if tenantID != "" && p.tenants != nil {
		rec, err := p.tenants.Get(ctx, tenantID)
		if err != nil {
			re := openfeature.NewGeneralResolutionError("the tenant's record could not be read", err)
			return f, Resolution{}, &re
		}
		override, has = rec.FlagOverrides[flag]
		if tier == "" {
			tier = string(rec.Tier)
		}
	}
	return f, Evaluate(f, tenantID, catalog.Tier(tier), override, has), nil
}

func detail(r Resolution, re *openfeature.ResolutionError) openfeature.ProviderResolutionDetail {
	d := openfeature.ProviderResolutionDetail{Reason: r.Reason, Variant: r.Variant}
	if re != nil {
		d.ResolutionError, d.Reason = *re, openfeature.ErrorReason
	}
	return d
}

func mismatch(f Flag, want Kind) openfeature.ProviderResolutionDetail {
	return openfeature.ProviderResolutionDetail{Reason: openfeature.ErrorReason,
		ResolutionError: openfeature.NewTypeMismatchResolutionError(fmt.Sprintf("flag %q is %s, not %s", f.Name, f.Kind, want))}
}

// BooleanEvaluation resolves a boolean flag.
func (p *Provider) BooleanEvaluation(ctx context.Context, flag string, def bool, flat openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	f, r, re := p.Resolve(ctx, flag, flat)
	if re == nil && f.Kind != KindBoolean {
		return openfeature.BoolResolutionDetail{Value: def, ProviderResolutionDetail: mismatch(f, KindBoolean)}
	}
	v, ok := r.Value.(bool)
	if re != nil || !ok {
		return openfeature.BoolResolutionDetail{Value: def, ProviderResolutionDetail: detail(r, re)}
	}
	return openfeature.BoolResolutionDetail{Value: v, ProviderResolutionDetail: detail(r, nil)}
}

// StringEvaluation resolves a string flag.
func (p *Provider) StringEvaluation(ctx context.Context, flag string, def string, flat openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	f, r, re := p.Resolve(ctx, flag, flat)
	if re == nil && f.Kind != KindString {
		return openfeature.StringResolutionDetail{Value: def, ProviderResolutionDetail: mismatch(f, KindString)}
	}
	v, ok := r.Value.(string)
	if re != nil || !ok {
		return openfeature.StringResolutionDetail{Value: def, ProviderResolutionDetail: detail(r, re)}
	}
	return openfeature.StringResolutionDetail{Value: v, ProviderResolutionDetail: detail(r, nil)}
}

// IntEvaluation resolves an integer flag.
func (p *Provider) IntEvaluation(ctx context.Context, flag string, def int64, flat openfeature.FlattenedContext) openfeature.IntResolutionDetail {
	f, r, re := p.Resolve(ctx, flag, flat)
	if re == nil && f.Kind != KindInteger {
		return openfeature.IntResolutionDetail{Value: def, ProviderResolutionDetail: mismatch(f, KindInteger)}
	}
	v, ok := r.Value.(int64)
	if re != nil || !ok {
		return openfeature.IntResolutionDetail{Value: def, ProviderResolutionDetail: detail(r, re)}
	}
	return openfeature.IntResolutionDetail{Value: v, ProviderResolutionDetail: detail(r, nil)}
}

// FloatEvaluation resolves an integer flag as a float; other kinds are a
// type mismatch.
func (p *Provider) FloatEvaluation(ctx context.Context, flag string, def float64, flat openfeature.FlattenedContext) openfeature.FloatResolutionDetail {
	f, r, re := p.Resolve(ctx, flag, flat)
	if re == nil && f.Kind != KindInteger {
		return openfeature.FloatResolutionDetail{Value: def, ProviderResolutionDetail: mismatch(f, KindInteger)}
	}
	v, ok := r.Value.(int64)
	if re != nil || !ok {
		return openfeature.FloatResolutionDetail{Value: def, ProviderResolutionDetail: detail(r, re)}
	}
	return openfeature.FloatResolutionDetail{Value: float64(v), ProviderResolutionDetail: detail(r, nil)}
}

// ObjectEvaluation resolves a flag of any kind as its value.
func (p *Provider) ObjectEvaluation(ctx context.Context, flag string, def any, flat openfeature.FlattenedContext) openfeature.InterfaceResolutionDetail {
	_, r, re := p.Resolve(ctx, flag, flat)
	if re != nil {
		return openfeature.InterfaceResolutionDetail{Value: def, ProviderResolutionDetail: detail(r, re)}
	}
	return openfeature.InterfaceResolutionDetail{Value: r.Value, ProviderResolutionDetail: detail(r, nil)}
}
