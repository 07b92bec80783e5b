package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/metering"
	"github.com/tessera-saas/tessera/internal/platform/plan"
)

// The dashboard reads what internal/platform/metering writes: one EMF line per
// request in the api function's log group, namespace metering.Namespace,
// with the fields TenantId, Tier, Route, StatusClass, Requests (1),
// Latency (ms), ReadCapacityUnits and WriteCapacityUnits, and the metrics
// Requests and Latency (and the capacity units) under the dimension sets
// [Tier, Route, StatusClass] and [Tier] (plus [TenantId, Tier] for the
// tiers configured per tenant).
//
// Top tenants come from Contributor Insights rules over those lines, not
// from metrics: a rule ranks every tenant at $0.50 per rule-month plus
// $0.02 per million matched lines, where a per-tenant dimension costs a
// custom metric per tenant.
//
// Errors per tier: no metric has the dimension set [Tier, StatusClass], so
// the graphs add up, with metric math, the [Tier, Route, StatusClass]
// series that SEARCH finds for the tier and status class. SEARCH works in
// dashboards, not in alarms; an alarm on a tier's error rate would need
// metering to emit [Tier, StatusClass] as well (one metric per tier and
// class: 15 metrics).
const (
	fieldTenantID = "TenantId"
	fieldTier     = "Tier"
	fieldStatus   = "StatusClass"
	fieldRoute    = "Route"
	metricLatency = "Latency"
	// metricRequests is also a field of the line, like the capacity units.
	metricRequests = "Requests"
)

// insightRule is one Contributor Insights rule: tenants ranked by the sum
// of one numeric field of their EMF lines.
type insightRule struct {
	ID, Title string
	// Field is the summed field of the EMF line.
	Field string
}

var insightRules = []insightRule{
	{ID: "TopTenantsByRequests", Title: "Top tenants by requests", Field: metricRequests},
	{ID: "TopTenantsByReadCapacity", Title: "Top tenants by read capacity units", Field: "ReadCapacityUnits"},
	{ID: "TopTenantsByWriteCapacity", Title: "Top tenants by write capacity units", Field: "WriteCapacityUnits"},
}

// topContributors is how many tenants an insight widget shows.
const topContributors = 10

// dashboardPeriod is the period of every graph.
const dashboardPeriod = 5 // minutes

// ruleName is the name of an insight rule of stage (unique per account and
// Region, like every name with the stage in it).
func (r insightRule) ruleName(stage string) string {
	return "tessera-" + stage + "-" + r.ID
}

// body is the rule's definition over logGroupName: the tenant is the key,
// the field's value is summed, and only lines where the field is positive
// count (application log lines have no such field; a request that consumed
// no capacity adds nothing, and is not billed as a matched line).
func (r insightRule) body(logGroupName string) map[string]any {
	return map[string]any{
		"Schema":        map[string]any{"Name": "CloudWatchLogRule", "Version": 1},
		"LogGroupNames": []string{logGroupName},
		"LogFormat":     "JSON",
		"Contribution": map[string]any{
			"Keys":    []string{"$." + fieldTenantID},
			"ValueOf": "$." + r.Field,
			"Filters": []any{
				map[string]any{"Match": "$." + fieldTenantID, "IsPresent": true},
				map[string]any{"Match": "$." + r.Field, "GreaterThan": 0},
			},
		},
		"AggregateOn": "Sum",
	}
}

// newDashboard defines the Contributor Insights rules over the api
// function's log group and the dashboard "tessera-<stage>": top tenants by
// requests and by consumed capacity, then per tier latency (p50, p99),
// requests, and 4xx and 5xx responses.
func newDashboard(stack awscdk.Stack, cfg config, apiLogs awslogs.ILogGroup) awscloudwatch.Dashboard {
	var top []awscloudwatch.IWidget
	for _, r := range insightRules {
		rule := awscloudwatch.NewCfnInsightRule(stack, jsii.String(r.ID), &awscloudwatch.CfnInsightRuleProps{
			RuleName:  jsii.String(r.ruleName(cfg.Stage)),
			RuleState: jsii.String("ENABLED"),
			RuleBody:  stack.ToJsonString(r.body(*apiLogs.LogGroupName()), nil),
		})
		top = append(top, newInsightWidget(r.Title, rule.AttrRuleName(), stack.Region()))
	}

	period := awscdk.Duration_Minutes(jsii.Number(dashboardPeriod))
	byTier := func(name, stat string) *[]awscloudwatch.IMetric {
		var ms []awscloudwatch.IMetric
		for _, tier := range plan.Tiers {
			ms = append(ms, awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace:     jsii.String(metering.Namespace),
				MetricName:    jsii.String(name),
				DimensionsMap: &map[string]*string{fieldTier: jsii.String(string(tier))},
				Statistic:     jsii.String(stat),
				Period:        period,
				Label:         jsii.String(string(tier)),
			}))
		}
		return &ms
	}
	classByTier := func(class string) *[]awscloudwatch.IMetric {
		var ms []awscloudwatch.IMetric
		for _, tier := range plan.Tiers {
			ms = append(ms, awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
				Expression: jsii.String(statusSearch(tier, class)),
				Label:      jsii.String(string(tier)),
				Period:     period,
			}))
		}
		return &ms
	}
	graph := func(title string, width float64, left *[]awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Width: jsii.Number(width), Height: jsii.Number(6), Left: left,
		})
	}

	return awscloudwatch.NewDashboard(stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String("tessera-" + cfg.Stage),
		Widgets: &[]*[]awscloudwatch.IWidget{
			&top,
			{
				graph("Latency p50 (ms) by tier", 12, byTier(metricLatency, "p50")),
				graph("Latency p99 (ms) by tier", 12, byTier(metricLatency, "p99")),
			},
			{
				graph("Requests by tier", 8, byTier(metricRequests, "Sum")),
				graph("4xx responses by tier", 8, classByTier("4xx")),
				graph("5xx responses by tier", 8, classByTier("5xx")),
			},
		},
	})
}

// statusSearch is the metric math that sums a tier's responses of one
// status class over every route.
func statusSearch(tier catalog.Tier, class string) string {
	return fmt.Sprintf(`SUM(SEARCH('{%s,%s,%s,%s} MetricName="%s" %s="%s" %s="%s"', 'Sum'))`,
		metering.Namespace, fieldRoute, fieldStatus, fieldTier, metricRequests, fieldTier, tier, fieldStatus, class)
}

// insightWidget is a dashboard graph of a Contributor Insights rule's top
// contributors. The CDK has no such widget; this is the metric widget with
// the "insightRule" property of the dashboard body's JSON.
type insightWidget struct {
	awscloudwatch.ConcreteWidget
	title            string
	ruleName, region *string
}

func newInsightWidget(title string, ruleName, region *string) *insightWidget {
	w := &insightWidget{title: title, ruleName: ruleName, region: region}
	awscloudwatch.NewConcreteWidget_Override(w, jsii.Number(8), jsii.Number(6))
	return w
}

// ToJson renders the widget for the dashboard body.
func (w *insightWidget) ToJson() *[]any {
	return &[]any{map[string]any{
		"type": "metric", "x": w.X(), "y": w.Y(), "width": w.Width(), "height": w.Height(),
		"properties": map[string]any{
			"title":  w.title,
			"region": w.region,
			"view":   "timeSeries",
			"period": dashboardPeriod * 60,
			"legend": map[string]any{"position": "right"},
			"insightRule": map[string]any{
				"ruleName":            w.ruleName,
				"maxContributorCount": topContributors,
				"orderBy":             "Sum",
			},
		},
	}}
}
