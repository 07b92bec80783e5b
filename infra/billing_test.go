package main

import (
	"reflect"
	"slices"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// TestBillingFunctionRole checks every action of the billing function's
// role, with its resources and conditions: its log group; tenant sessions
// (counting a tenant's items); tenant records by key (TENANT# items only)
// and the catalog's list index; PutItem and Query on usage ledger items
// (USAGE# only: hourly totals, samples, marks), no update or delete; the
// cursor key and the Stripe key secret, each alone. Its environment names
// the Stripe secret; an hourly schedule invokes it.
func TestBillingFunctionRole(t *testing.T) {
	s := synth(t)
	roleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", fnID(functionBilling)+"FunctionRole")
	logsID := s.AppJSON.logicalID(t, "AWS::Logs::LogGroup", fnID(functionBilling)+"FunctionLogs")
	dataRoleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", access.RoleName)
	catalog := "${Data:" + s.DataJSON.logicalID(t, "AWS::DynamoDB::Table", "CatalogTable") + ".Arn}"
	cursor := "${Data:" + s.DataJSON.logicalID(t, "AWS::SecretsManager::Secret", "CursorKey") + "}"
	stripeID := s.AppJSON.logicalID(t, "AWS::SecretsManager::Secret", "StripeApiKey")
	stripe := "${" + stripeID + "}"
	under := func(prefix string) string {
		return jsonOf(map[string]any{
			"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": []any{prefix + "*"}},
			"Null":                    map[string]any{"dynamodb:LeadingKeys": []any{"false"}},
		})
	}
	// action -> resource|condition
	want := map[string][]string{
		"logs:CreateLogStream": {"${" + logsID + ".Arn}|"}, "logs:PutLogEvents": {"${" + logsID + ".Arn}|"},
		"sts:AssumeRole": {"${" + dataRoleID + ".Arn}|"}, "sts:TagSession": {"${" + dataRoleID + ".Arn}|"},
		"secretsmanager:GetSecretValue": {cursor + "|", stripe + "|"},
		"dynamodb:GetItem":              {catalog + "|" + under(store.CatalogTenantPrefix)},
		"dynamodb:Query":                {catalog + "/index/" + store.CatalogIndex + "|", catalog + "|" + under(store.UsagePrefix)},
		"dynamodb:PutItem":              {catalog + "|" + under(store.UsagePrefix)},
	}
	got := map[string][]string{}
	for i, st := range roleStatements(s.AppJSON, roleID) {
		if st["Effect"] != "Allow" {
			t.Errorf("statement %d: %s", i, jsonOf(st))
		}
		cond := ""
		if st["Condition"] != nil {
			cond = jsonOf(normConditionLists(st["Condition"]))
		}
		for _, a := range strs(st["Action"]) {
			for _, r := range resourcesOf(st) {
				got[a] = append(got[a], r+"|"+cond)
			}
		}
	}
	for _, m := range []map[string][]string{got, want} {
		for a := range m {
			slices.Sort(m[a])
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("billing role actions\n got  %s\n want %s", jsonOf(got), jsonOf(want))
	}
	if v := flatten(functionVars(t, s, functionBilling)[settings.EnvStripeSecretARN]); v != stripe {
		t.Errorf("%s = %s, want the Stripe secret %s", settings.EnvStripeSecretARN, v, stripe)
	}
	// No other role reads the Stripe key.
	for _, spec := range functionSpecs {
		if spec.Billing {
			continue
		}
		for _, st := range grantedStatements(s, t, spec.Name, "secretsmanager:") {
			if slices.Contains(resourcesOf(st), stripe) {
				t.Errorf("%s reads the Stripe key", spec.Name)
			}
		}
	}
	fnID := s.AppJSON.logicalID(t, "AWS::Lambda::Function", fnID(functionBilling)+"Function")
	ruleID := s.AppJSON.logicalID(t, "AWS::Events::Rule", "BillingSchedule")
	rule := props(s.AppJSON.resources("AWS::Events::Rule")[ruleID])
	if rule["ScheduleExpression"] != "rate(1 hour)" {
		t.Errorf("ScheduleExpression = %v, want rate(1 hour)", rule["ScheduleExpression"])
	}
	if targets := list(rule["Targets"]); len(targets) != 1 || flatten(targets[0].(map[string]any)["Arn"]) != "${"+fnID+".Arn}" {
		t.Errorf("targets = %s, want the billing function", jsonOf(rule["Targets"]))
	}
}
