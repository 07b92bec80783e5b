package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/metering"
	"github.com/tessera-saas/tessera/internal/platform/plan"
)

// emfLine is metering's golden EMF line (a premium request).
func emfLine(t *testing.T, root string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "internal", "platform", "metering", "testdata", "line-premium.json"))
	if err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(b, &line); err != nil {
		t.Fatalf("golden EMF line: %v", err)
	}
	return line
}

// TestDashboardReadsWhatMeteringWrites checks the names the dashboard and
// the rules use against metering's golden EMF line: the namespace, the
// metrics, the dimension sets, and the fields of the line.
func TestDashboardReadsWhatMeteringWrites(t *testing.T) {
	line := emfLine(t, synth(t).Root)
	if _, ok := line[fieldTenantID].(string); !ok {
		t.Errorf("the EMF line has no string field %s: %v", fieldTenantID, line)
	}
	for _, r := range insightRules {
		if _, ok := line[r.Field].(float64); !ok {
			t.Errorf("rule %s sums %s, which is not a number in the EMF line", r.ID, r.Field)
		}
	}
	var directive struct {
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name string }
		}
	}
	aws, _ := json.Marshal(line["_aws"])
	if err := json.Unmarshal(aws, &directive); err != nil || len(directive.CloudWatchMetrics) != 1 {
		t.Fatalf("EMF directive %s: %v", aws, err)
	}
	d := directive.CloudWatchMetrics[0]
	if d.Namespace != metering.Namespace {
		t.Errorf("namespace %s, want %s", d.Namespace, metering.Namespace)
	}
	for _, dims := range [][]string{{fieldTier}, {fieldTier, fieldRoute, fieldStatus}} {
		if !slices.ContainsFunc(d.Dimensions, func(x []string) bool { return slices.Equal(sorted(x), sorted(dims)) }) {
			t.Errorf("metering emits no dimension set %v (has %v)", dims, d.Dimensions)
		}
	}
	for _, m := range []string{metricLatency, metricRequests} {
		if !slices.ContainsFunc(d.Metrics, func(x struct{ Name string }) bool { return x.Name == m }) {
			t.Errorf("metering emits no metric %s", m)
		}
	}
}

// TestContributorInsightRules checks one rule per ranking, over the api
// function's log group, keyed by tenant and summing its field.
func TestContributorInsightRules(t *testing.T) {
	s := synth(t)
	logsID := s.AppJSON.logicalID(t, "AWS::Logs::LogGroup", "ApiFunctionLogs")
	rules := s.AppJSON.resources("AWS::CloudWatch::InsightRule")
	if len(rules) != len(insightRules) {
		t.Errorf("%d insight rules, want %d", len(rules), len(insightRules))
	}
	for _, r := range insightRules {
		t.Run(r.ID, func(t *testing.T) {
			p := props(rules[r.ID])
			if p["RuleName"] != "tessera-"+testStage+"-"+r.ID || p["RuleState"] != "ENABLED" {
				t.Errorf("RuleName = %v, RuleState = %v", p["RuleName"], p["RuleState"])
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(flatten(p["RuleBody"])), &body); err != nil {
				t.Fatalf("RuleBody %s: %v", flatten(p["RuleBody"]), err)
			}
			want := map[string]any{
				"Schema":        map[string]any{"Name": "CloudWatchLogRule", "Version": 1},
				"LogGroupNames": []any{"${" + logsID + "}"},
				"LogFormat":     "JSON",
				"AggregateOn":   "Sum",
				"Contribution": map[string]any{
					"Keys":    []any{"$." + fieldTenantID},
					"ValueOf": "$." + r.Field,
					"Filters": []any{
						map[string]any{"Match": "$." + fieldTenantID, "IsPresent": true},
						map[string]any{"Match": "$." + r.Field, "GreaterThan": 0},
					},
				},
			}
			if jsonOf(body) != jsonOf(want) {
				t.Errorf("RuleBody\n got  %s\n want %s", jsonOf(body), jsonOf(want))
			}
		})
	}
}

// dashboardWidget is the part of a dashboard body widget the test reads.
type dashboardWidget struct {
	Type       string
	Properties struct {
		Title       string
		Region      string
		InsightRule *struct {
			RuleName            string
			MaxContributorCount int
			OrderBy             string
		}
		Metrics [][]any
	}
}

// TestDashboard checks the dashboard's widgets: the top tenants of each
// rule, then latency (p50, p99), requests, 4xx and 5xx by tier.
func TestDashboard(t *testing.T) {
	s := synth(t)
	boards := s.AppJSON.resources("AWS::CloudWatch::Dashboard")
	if len(boards) != 1 {
		t.Fatalf("%d dashboards, want 1", len(boards))
	}
	var body struct{ Widgets []dashboardWidget }
	for _, b := range boards {
		if props(b)["DashboardName"] != "tessera-"+testStage {
			t.Errorf("DashboardName = %v", props(b)["DashboardName"])
		}
		if err := json.Unmarshal([]byte(flatten(props(b)["DashboardBody"])), &body); err != nil {
			t.Fatalf("DashboardBody: %v", err)
		}
	}
	byTitle := map[string]dashboardWidget{}
	for _, w := range body.Widgets {
		if w.Type != "metric" || w.Properties.Region != "${AWS::Region}" {
			t.Errorf("widget %q: type %s, region %s", w.Properties.Title, w.Type, w.Properties.Region)
		}
		byTitle[w.Properties.Title] = w
	}

	for _, r := range insightRules {
		w, ok := byTitle[r.Title]
		if !ok || w.Properties.InsightRule == nil {
			t.Errorf("no insight widget %q", r.Title)
			continue
		}
		ir := w.Properties.InsightRule
		if ir.RuleName != "${"+r.ID+".RuleName}" || ir.MaxContributorCount != topContributors || ir.OrderBy != "Sum" {
			t.Errorf("widget %q: insightRule = %+v, want rule %s, top %d by Sum", r.Title, *ir, r.ID, topContributors)
		}
	}

	// metricSeries renders each series of a widget: namespace/metric/tier
	// and stat, or the math expression.
	series := func(title string) []string {
		w, ok := byTitle[title]
		if !ok {
			t.Errorf("no widget %q; have %v", title, keys(byTitle))
			return nil
		}
		var out []string
		for _, m := range w.Properties.Metrics {
			opts, _ := m[len(m)-1].(map[string]any)
			if e, ok := opts["expression"].(string); ok {
				out = append(out, e)
				continue
			}
			out = append(out, jsonOf(m[:len(m)-1])+" "+jsonOf(opts["stat"]))
		}
		return out
	}
	for _, tc := range []struct {
		title, metric, stat, class string
	}{
		{"Latency p50 (ms) by tier", metricLatency, "p50", ""},
		{"Latency p99 (ms) by tier", metricLatency, "p99", ""},
		{"Requests by tier", metricRequests, "Sum", ""},
		{"4xx responses by tier", "", "", "4xx"},
		{"5xx responses by tier", "", "", "5xx"},
	} {
		var want []string
		for _, tier := range plan.Tiers {
			if tc.class != "" {
				want = append(want, statusSearch(tier, tc.class))
				continue
			}
			want = append(want, jsonOf([]string{metering.Namespace, tc.metric, fieldTier, string(tier)})+" "+jsonOf(tc.stat))
		}
		if got := series(tc.title); !slices.Equal(got, want) {
			t.Errorf("%s: series\n got  %v\n want %v", tc.title, got, want)
		}
	}
	want := `SUM(SEARCH('{Tessera,Route,StatusClass,Tier} MetricName="Requests" Tier="basic" StatusClass="5xx"', 'Sum'))`
	if got := statusSearch("basic", "5xx"); got != want {
		t.Errorf("statusSearch = %s, want %s", got, want)
	}
}
