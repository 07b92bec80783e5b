package bootstrap_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"

	"github.com/tessera-saas/tessera/internal/local/bootstrap"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/plan"
)

// TestUsagePlansCarryTheTierLimits checks that each tier has one usage plan
// with internal/platform/plan's numbers, and that a second run reuses them.
func TestUsagePlansCarryTheTierLimits(t *testing.T) {
	e := testenv.Setup(t)
	ctx := context.Background()
	again, err := bootstrap.Run(ctx, e.Config, e.Settings)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	api := apigateway.NewFromConfig(e.Config)
	for _, tier := range plan.Tiers {
		id := e.Settings.UsagePlanIDs[tier]
		if id == "" {
			t.Fatalf("no usage plan id for %s in %v", tier, e.Settings.UsagePlanIDs)
		}
		if again.UsagePlanIDs[tier] != id {
			t.Errorf("%s: second run returned plan %q, want the same %q", tier, again.UsagePlanIDs[tier], id)
		}
		up, err := api.GetUsagePlan(ctx, &apigateway.GetUsagePlanInput{UsagePlanId: aws.String(id)})
		if err != nil {
			t.Fatalf("get plan %s: %v", id, err)
		}
		l, _ := plan.For(tier)
		if got := aws.ToString(up.Name); got != bootstrap.UsagePlanName(e.Settings.Stage, tier) {
			t.Errorf("%s: name %q", tier, got)
		}
		if up.Throttle == nil || up.Throttle.RateLimit != l.RateLimit || int(up.Throttle.BurstLimit) != l.BurstLimit {
			t.Errorf("%s: throttle %+v, want rate %v burst %d", tier, up.Throttle, l.RateLimit, l.BurstLimit)
		}
		if up.Quota == nil || int64(up.Quota.Limit) != l.MonthlyQuota || up.Quota.Period != "MONTH" {
			t.Errorf("%s: quota %+v, want %d per MONTH", tier, up.Quota, l.MonthlyQuota)
		}
	}
	var n int
	p := apigateway.NewGetUsagePlansPaginator(api, &apigateway.GetUsagePlansInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, up := range page.Items {
			for _, tier := range plan.Tiers {
				if aws.ToString(up.Name) == bootstrap.UsagePlanName(e.Settings.Stage, tier) {
					n++
				}
			}
		}
	}
	if n != len(plan.Tiers) {
		t.Errorf("found %d tier plans after two runs, want %d", n, len(plan.Tiers))
	}
}
