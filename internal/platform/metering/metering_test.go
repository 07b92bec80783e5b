package metering_test

import (
	"context"
	"maps"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/metering"
)

func TestDefaultConfigIsPremiumOnly(t *testing.T) {
	want := map[catalog.Tier]bool{catalog.TierPremium: true}
	if got := metering.DefaultConfig().PerTenantTiers; !maps.Equal(got, want) {
		t.Fatalf("DefaultConfig = %v, want %v", got, want)
	}
}

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []catalog.Tier
		wantErr bool
	}{
		{in: "", want: nil},
		{in: " , ", want: nil},
		{in: "premium", want: []catalog.Tier{catalog.TierPremium}},
		{in: "premium,standard", want: []catalog.Tier{catalog.TierPremium, catalog.TierStandard}},
		{in: " Basic , premium ,", want: []catalog.Tier{catalog.TierBasic, catalog.TierPremium}},
		{in: "basic,standard,premium,premium", want: []catalog.Tier{catalog.TierBasic, catalog.TierStandard, catalog.TierPremium}},
		{in: "gold", wantErr: true},
		{in: "premium,enterprise", wantErr: true},
		{in: "premium;standard", wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := metering.ParseConfig(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseConfig(%q) = %v, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := map[catalog.Tier]bool{}
			for _, tier := range tc.want {
				want[tier] = true
			}
			if !maps.Equal(got.PerTenantTiers, want) {
				t.Fatalf("ParseConfig(%q) = %v, want %v", tc.in, got.PerTenantTiers, want)
			}
		})
	}
}

func TestMeterCapacityFromGoroutines(t *testing.T) {
	m := metering.Start("t-abc", catalog.TierBasic, "GET /v1/orders", time.Now())
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() { m.AddCapacity(0.5, 1) })
	}
	wg.Wait()
	if r, w := m.Capacity(); r != 50 || w != 100 {
		t.Fatalf("capacity = %v, %v; want 50, 100", r, w)
	}
	// DynamoDB never reports these; they must not poison the line.
	m.AddCapacity(math.NaN(), math.Inf(1))
	m.AddCapacity(-1, math.Inf(-1))
	if r, w := m.Capacity(); r != 50 || w != 100 {
		t.Fatalf("capacity after bad figures = %v, %v; want 50, 100", r, w)
	}
}

func TestContext(t *testing.T) {
	if _, ok := metering.FromContext(context.Background()); ok {
		t.Fatal("a bare context has a meter")
	}
	if _, ok := metering.FromContext(metering.NewContext(context.Background(), nil)); ok {
		t.Fatal("a nil meter is reported as present")
	}
	m := metering.Start("t-abc", catalog.TierBasic, "GET /v1/orders", time.Now())
	got, ok := metering.FromContext(metering.NewContext(context.Background(), m))
	if !ok || got != m {
		t.Fatalf("FromContext = %p, %v; want %p", got, ok, m)
	}
}
