package bootstrap

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigateway/types"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/plan"
)

// UsagePlanName is the name of a tier's usage plan in stage; the CDK app
// uses the same names.
func UsagePlanName(stage string, t catalog.Tier) string { return "tessera-" + stage + "-" + string(t) }

// ensureUsagePlans creates each tier's usage plan (rate, burst and monthly
// quota from internal/platform/plan) unless one of that name exists, and returns their
// ids. Locally no REST API is deployed, so the plans have no API stages; the
// provisioner binds tenants' keys to them all the same.
func ensureUsagePlans(ctx context.Context, api *apigateway.Client, stage string) (map[catalog.Tier]string, error) {
	existing := map[string]string{}
	p := apigateway.NewGetUsagePlansPaginator(api, &apigateway.GetUsagePlansInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list usage plans: %w", err)
		}
		for _, up := range page.Items {
			existing[aws.ToString(up.Name)] = aws.ToString(up.Id)
		}
	}
	ids := map[catalog.Tier]string{}
	for _, t := range plan.Tiers {
		name := UsagePlanName(stage, t)
		if id, ok := existing[name]; ok {
			ids[t] = id
			continue
		}
		l, _ := plan.For(t)
		out, err := api.CreateUsagePlan(ctx, &apigateway.CreateUsagePlanInput{
			Name:        aws.String(name),
			Description: aws.String("Limits of the " + string(t) + " tier"),
			Throttle:    &types.ThrottleSettings{RateLimit: l.RateLimit, BurstLimit: int32(l.BurstLimit)},
			Quota:       &types.QuotaSettings{Limit: int32(l.MonthlyQuota), Period: types.QuotaPeriodTypeMonth},
		})
		if err != nil {
			return nil, fmt.Errorf("create usage plan %s: %w", name, err)
		}
		ids[t] = aws.ToString(out.Id)
	}
	return ids, nil
}
