package features_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/features"
	"github.com/tessera-saas/tessera/internal/platform/plan"
)

// stored is a Source of fixed definitions, counting its reads.
type stored struct {
	flags []features.Flag
	reads int
}

func (s *stored) ListFlags(context.Context) ([]features.Flag, error) {
	s.reads++
	return s.flags, nil
}

// records are tenant records by id.
type records map[string]catalog.Record

func (r records) Get(_ context.Context, id string) (catalog.Record, error) {
	rec, ok := r[id]
	if !ok {
		return catalog.Record{}, catalog.ErrNotFound
	}
	return rec, nil
}

func client(t *testing.T, src features.Source, tenants features.Tenants) *openfeature.Client {
	t.Helper()
	c, err := features.NewClient(context.Background(), features.NewProvider(features.NewDefinitions(src, time.Minute), tenants))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// in is ctx carrying rec's evaluation context, as the api function's
// serve does.
func in(rec catalog.Record) context.Context {
	return openfeature.WithTransactionContext(context.Background(), features.ContextFor(rec, "eu-west-1"))
}

func TestFlagPerTierOverriddenForOneTenant(t *testing.T) {
	tenants := records{}
	for _, tier := range plan.Tiers {
		tenants["t-"+string(tier)] = catalog.Record{TenantID: "t-" + string(tier), Tier: tier, Status: catalog.StatusActive}
	}
	tenants["t-special"] = catalog.Record{TenantID: "t-special", Tier: catalog.TierBasic, Status: catalog.StatusActive,
		FlagOverrides: map[string]any{features.Exports: true, features.MaxProducts: float64(7)}} // numbers come back from DynamoDB as float64
	c := client(t, nil, tenants)
	for _, tier := range plan.Tiers {
		l, _ := plan.For(tier)
		ctx := in(tenants["t-"+string(tier)])
		d, err := c.BooleanValueDetails(ctx, features.Exports, false, openfeature.EvaluationContext{})
		if err != nil || d.Value != l.Exports || d.Reason != openfeature.TargetingMatchReason || d.Variant != "tier:"+string(tier) {
			t.Errorf("%s exports = %+v, %v; want %v by tier", tier, d, err, l.Exports)
		}
		n, err := c.IntValueDetails(ctx, features.MaxProducts, -1, openfeature.EvaluationContext{})
		if err != nil || n.Value != int64(l.MaxProducts) {
			t.Errorf("%s max-products = %+v, %v; want %d", tier, n, err, l.MaxProducts)
		}
	}
	ctx := in(tenants["t-special"])
	if d, err := c.BooleanValueDetails(ctx, features.Exports, false, openfeature.EvaluationContext{}); err != nil || !d.Value ||
		d.Reason != openfeature.TargetingMatchReason || d.Variant != features.VariantOverride {
		t.Errorf("overridden exports = %+v, %v", d, err)
	}
	if n, err := c.IntValue(ctx, features.MaxProducts, -1, openfeature.EvaluationContext{}); err != nil || n != 7 {
		t.Errorf("overridden max-products = %d, %v", n, err)
	}
	// The other basic tenant keeps its tier's value.
	if v := c.Boolean(in(tenants["t-basic"]), features.Exports, true, openfeature.EvaluationContext{}); v {
		t.Error("the override of t-special reached t-basic")
	}
}

func TestRolloutIsDeterministicByTenant(t *testing.T) {
	src := &stored{flags: []features.Flag{{Name: "new-search", Kind: features.KindBoolean, Default: false,
		Rollout: &features.Rollout{Percent: 30, Value: true}, Version: 1}}}
	c := client(t, src, nil)
	in := 0
	const n = 1000
	for i := range n {
		ctx := openfeature.WithTransactionContext(context.Background(),
			features.ContextFor(catalog.Record{TenantID: fmt.Sprintf("t-%04d", i), Tier: catalog.TierStandard}, "eu-west-1"))
		a, err := c.BooleanValueDetails(ctx, "new-search", false, openfeature.EvaluationContext{})
		if err != nil {
			t.Fatal(err)
		}
		b := c.Boolean(ctx, "new-search", !a.Value, openfeature.EvaluationContext{})
		if a.Value != b {
			t.Fatalf("tenant %d: %v then %v", i, a.Value, b)
		}
		if a.Value {
			in++
			if a.Reason != openfeature.SplitReason || a.Variant != features.VariantRollout {
				t.Fatalf("in the rollout: %+v", a)
			}
		} else if a.Reason != openfeature.DefaultReason {
			t.Fatalf("out of the rollout: %+v", a)
		}
	}
	if in < 250 || in > 350 {
		t.Errorf("%d of %d tenants in a 30%% rollout", in, n)
	}
	t.Logf("%d of %d tenants in a 30%% rollout", in, n)
	if src.reads != 1 {
		t.Errorf("definitions read %d times for %d evaluations, want once (cached)", src.reads, 2*n)
	}
	// A tenant in at 30 % is in at 60 % too.
	wider := client(t, &stored{flags: []features.Flag{{Name: "new-search", Kind: features.KindBoolean, Default: false,
		Rollout: &features.Rollout{Percent: 60, Value: true}}}}, nil)
	for i := range 100 {
		id := fmt.Sprintf("t-%04d", i)
		if features.Bucket("new-search", id) < 30 && !wider.Boolean(openfeature.WithTransactionContext(context.Background(),
			features.ContextFor(catalog.Record{TenantID: id}, "")), "new-search", false, openfeature.EvaluationContext{}) {
			t.Fatalf("%s left the rollout when it grew", id)
		}
	}
}

func TestStoredDefinitionReplacesBuiltin(t *testing.T) {
	src := &stored{flags: []features.Flag{{Name: features.Exports, Kind: features.KindBoolean, Default: true, Version: 3}}}
	c := client(t, src, nil)
	d, err := c.BooleanValueDetails(in(catalog.Record{TenantID: "t-1", Tier: catalog.TierBasic}), features.Exports, false, openfeature.EvaluationContext{})
	if err != nil || !d.Value || d.Reason != openfeature.StaticReason {
		t.Errorf("stored exports = %+v, %v; want true, STATIC", d, err)
	}
}

func TestResolutionErrors(t *testing.T) {
	c := client(t, nil, records{})
	ctx := in(catalog.Record{TenantID: "t-x", Tier: catalog.TierBasic})
	d, err := c.BooleanValueDetails(ctx, "no-such-flag", true, openfeature.EvaluationContext{})
	if err == nil || d.ErrorCode != openfeature.FlagNotFoundCode || !d.Value {
		t.Errorf("unknown flag = %+v, %v", d, err)
	}
	s, err := c.StringValueDetails(context.Background(), features.MaxUsers, "x", openfeature.EvaluationContext{})
	if err == nil || s.ErrorCode != openfeature.TypeMismatchCode || s.Value != "x" {
		t.Errorf("integer flag read as a string = %+v, %v", s, err)
	}
	// The tenant's record cannot be read: an error, the caller's default.
	i, err := c.IntValueDetails(ctx, features.MaxUsers, 3, openfeature.EvaluationContext{})
	if err == nil || i.ErrorCode != openfeature.GeneralCode || i.Value != 3 {
		t.Errorf("unknown tenant = %+v, %v", i, err)
	}
}

func TestValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		f  features.Flag
		ok bool
	}{
		"boolean":           {features.Flag{Name: "a", Kind: features.KindBoolean, Default: false}, true},
		"integer from json": {features.Flag{Name: "a", Kind: features.KindInteger, Default: float64(3), TierDefaults: map[catalog.Tier]any{catalog.TierBasic: float64(1)}}, true},
		"string":            {features.Flag{Name: "a-b", Kind: features.KindString, Default: "x", Rollout: &features.Rollout{Percent: 5, Value: "y"}}, true},
		"bad name":          {features.Flag{Name: "A", Kind: features.KindBoolean, Default: false}, false},
		"bad kind":          {features.Flag{Name: "a", Kind: "float", Default: 1.5}, false},
		"default mismatch":  {features.Flag{Name: "a", Kind: features.KindBoolean, Default: "yes"}, false},
		"fraction":          {features.Flag{Name: "a", Kind: features.KindInteger, Default: 1.5}, false},
		"bad tier":          {features.Flag{Name: "a", Kind: features.KindBoolean, Default: false, TierDefaults: map[catalog.Tier]any{"gold": true}}, false},
		"tier mismatch":     {features.Flag{Name: "a", Kind: features.KindBoolean, Default: false, TierDefaults: map[catalog.Tier]any{catalog.TierBasic: 1}}, false},
		"percent over 100":  {features.Flag{Name: "a", Kind: features.KindBoolean, Default: false, Rollout: &features.Rollout{Percent: 101, Value: true}}, false},
		"rollout mismatch":  {features.Flag{Name: "a", Kind: features.KindBoolean, Default: false, Rollout: &features.Rollout{Percent: 1, Value: "x"}}, false},
		"no default":        {features.Flag{Name: "a", Kind: features.KindBoolean}, false},
	} {
		got, err := tc.f.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", name, err)
		}
		if err == nil && tc.f.Kind == features.KindInteger {
			if _, ok := got.Default.(int64); !ok {
				t.Errorf("%s: default %T, want int64", name, got.Default)
			}
		}
	}
}
