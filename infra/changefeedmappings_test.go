package main

import (
	"encoding/json"
	"testing"

	"github.com/tessera-saas/tessera/internal/control/tenantstack"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/access/iamsim"
	"github.com/tessera-saas/tessera/internal/platform/settings"
)

// TestProvisionerChangeFeedSettings checks what the provisioner passes to
// each TenantStack for its table's mapping: the changefeed function's ARN
// and its dead-letter queue's, which no other function is given; and that
// the shapes the provisioner's settings accept are exactly the non-empty
// values TenantStack's parameters allow, so that a provisioner that starts
// never creates a stack CloudFormation refuses.
func TestProvisionerChangeFeedSettings(t *testing.T) {
	s := synth(t)
	feedID := s.AppJSON.logicalID(t, "AWS::Lambda::Function", fnID(functionChangeFeed)+"Function")
	dlqID := s.DataJSON.logicalID(t, "AWS::SQS::Queue", "ChangeFeedDLQ")
	want := map[string]string{
		settings.EnvChangeFeedFunctionARN: "${" + feedID + ".Arn}",
		settings.EnvChangeFeedDLQARN:      "${Data:" + dlqID + ".Arn}",
	}
	vars := functionVars(t, s, functionProvisioner)
	for name, w := range want {
		if got := flatten(vars[name]); got != w {
			t.Errorf("provisioner %s = %s, want %s", name, got, w)
		}
	}
	for _, spec := range functionSpecs {
		for name := range want {
			if _, ok := functionVars(t, s, spec.Name)[name]; ok != spec.Provisioner {
				t.Errorf("%s: %s set: %v", spec.Name, name, ok)
			}
		}
	}

	params, _ := s.TenantJSON["Parameters"].(map[string]any)
	for param, pattern := range map[string]string{
		tenantstack.ParamChangeFeedFunctionArn: settings.ChangeFeedFunctionARNPattern,
		tenantstack.ParamChangeFeedDLQArn:      settings.ChangeFeedDLQARNPattern,
	} {
		p, _ := params[param].(map[string]any)
		if got := p["AllowedPattern"]; got != "^$|"+pattern {
			t.Errorf("TenantStack parameter %s allows %v, the settings %q (and empty)", param, got, pattern)
		}
	}
}

// TestProvisionerChangeFeedMappings checks the provisioner's Lambda
// statements, which CloudFormation uses to make a TenantStack's mapping:
// creating, updating and deleting mappings of the changefeed function
// only, reading any mapping, tagging one with the TenantStack's tag keys
// only; and that no other role has any Lambda action.
// Then, in the IAM simulator with the provisioner's whole synthesized
// policy, that these are allowed for the changefeed function's mappings
// and denied for another function's, and that the role can do nothing else
// with Lambda.
func TestProvisionerChangeFeedMappings(t *testing.T) {
	s := synth(t)
	feedID := s.AppJSON.logicalID(t, "AWS::Lambda::Function", fnID(functionChangeFeed)+"Function")
	feed := "${" + feedID + ".Arn}"
	mappings := "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:event-source-mapping:*"
	onlyFeed := map[string]any{"ArnEquals": map[string]any{"lambda:FunctionArn": []string{feed}}}
	tagKeys := map[string]any{"ForAllValues:StringLike": map[string]any{"aws:TagKeys": sorted(changeFeedMappingTagKeys)}}
	wantStmts := map[string]map[string]any{
		"ChangeFeedMappingCreate": {"Effect": "Allow", "Action": sorted(changeFeedMappingCreate), "Resource": []string{"*"}, "Condition": onlyFeed},
		"ChangeFeedMappingWrite":  {"Effect": "Allow", "Action": sorted(changeFeedMappingWrite), "Resource": []string{mappings}, "Condition": onlyFeed},
		"ChangeFeedMappingRead":   {"Effect": "Allow", "Action": sorted(changeFeedMappingRead), "Resource": []string{mappings}},
		"ChangeFeedMappingTags":   {"Effect": "Allow", "Action": sorted(changeFeedMappingTag), "Resource": []string{mappings}, "Condition": tagKeys},
	}
	for _, spec := range functionSpecs {
		got := map[string]map[string]any{}
		for _, st := range grantedStatements(s, t, spec.Name, "lambda:") {
			n := normPolicy(map[string]any{"Statement": []any{st}}).(map[string]any)["Statement"].([]any)[0].(map[string]any)
			sid, _ := n["Sid"].(string)
			delete(n, "Sid")
			got[sid] = n
		}
		want := map[string]map[string]any{}
		if spec.Provisioner {
			want = wantStmts
		}
		if jsonOf(got) != jsonOf(want) {
			t.Errorf("%s: Lambda statements\n got  %s\n want %s", spec.Name, jsonOf(got), jsonOf(want))
		}
	}

	const (
		feedARN  = "arn:aws:lambda:us-east-1:" + simAccount + ":function:Tessera-test-App-ChangefeedFunctionA8450CD2-AbCdEf123456"
		otherFn  = "arn:aws:lambda:us-east-1:" + simAccount + ":function:Tessera-test-App-ApiFunction-AbCdEf123456"
		mapping  = "arn:aws:lambda:us-east-1:" + simAccount + ":event-source-mapping:0f3c9a1e-5b7d-4e2a-9c8b-1d2e3f4a5b6c"
		otherAcc = "arn:aws:lambda:us-east-1:210987654321:event-source-mapping:0f3c9a1e-5b7d-4e2a-9c8b-1d2e3f4a5b6c"
	)
	roleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", fnID(functionProvisioner)+"FunctionRole")
	var stmts []any
	for _, st := range roleStatements(s.AppJSON, roleID) {
		stmts = append(stmts, st)
	}
	pol := literal(t, normPolicy(map[string]any{"Version": "2012-10-17", "Statement": stmts}),
		placeholders(t, stmts, map[string]string{feed: feedARN}))
	stackTags := []string{access.TenantTag, access.StageTag, "aws:cloudformation:stack-name", "aws:cloudformation:stack-id", "aws:cloudformation:logical-id"}
	cases := []struct {
		name, action, resource string
		ctx                    map[string]any
		want                   string
	}{
		{"create-feed-mapping", "lambda:CreateEventSourceMapping", "*", map[string]any{"lambda:FunctionArn": feedARN}, iamsim.Allowed},
		{"create-tagged-feed-mapping", "lambda:CreateEventSourceMapping", "*", map[string]any{"lambda:FunctionArn": feedARN, "aws:TagKeys": stackTags}, iamsim.Allowed},
		{"create-other-mapping", "lambda:CreateEventSourceMapping", "*", map[string]any{"lambda:FunctionArn": otherFn}, iamsim.ImplicitlyDenied},
		{"update-feed-mapping", "lambda:UpdateEventSourceMapping", mapping, map[string]any{"lambda:FunctionArn": feedARN}, iamsim.Allowed},
		{"update-other-mapping", "lambda:UpdateEventSourceMapping", mapping, map[string]any{"lambda:FunctionArn": otherFn}, iamsim.ImplicitlyDenied},
		{"delete-feed-mapping", "lambda:DeleteEventSourceMapping", mapping, map[string]any{"lambda:FunctionArn": feedARN}, iamsim.Allowed},
		{"delete-other-mapping", "lambda:DeleteEventSourceMapping", mapping, map[string]any{"lambda:FunctionArn": otherFn}, iamsim.ImplicitlyDenied},
		{"delete-other-account-mapping", "lambda:DeleteEventSourceMapping", otherAcc, map[string]any{"lambda:FunctionArn": feedARN}, iamsim.ImplicitlyDenied},
		// A deleted mapping has no function: CloudFormation still reads it
		// (until "not found").
		{"read-gone-mapping", "lambda:GetEventSourceMapping", mapping, nil, iamsim.Allowed},
		{"read-mapping-tags", "lambda:ListTags", mapping, nil, iamsim.Allowed},
		{"tag-mapping", "lambda:TagResource", mapping, map[string]any{"aws:TagKeys": stackTags}, iamsim.Allowed},
		{"tag-mapping-other-key", "lambda:TagResource", mapping, map[string]any{"aws:TagKeys": []string{access.TenantTag, "owner"}}, iamsim.ImplicitlyDenied},
		{"untag-mapping", "lambda:UntagResource", mapping, map[string]any{"aws:TagKeys": []string{access.TenantTag}}, iamsim.ImplicitlyDenied},
		{"tag-function", "lambda:TagResource", feedARN, map[string]any{"aws:TagKeys": []string{access.TenantTag}}, iamsim.ImplicitlyDenied},
		{"invoke-feed", "lambda:InvokeFunction", feedARN, nil, iamsim.ImplicitlyDenied},
		{"reconfigure-feed", "lambda:UpdateFunctionConfiguration", feedARN, nil, iamsim.ImplicitlyDenied},
		{"list-mappings", "lambda:ListEventSourceMappings", "*", nil, iamsim.ImplicitlyDenied},
	}
	var reqs []iamsim.Request
	var wants []string
	for _, c := range cases {
		ctx := c.ctx
		if ctx == nil {
			ctx = map[string]any{}
		}
		reqs = append(reqs, iamsim.Request{Name: c.name, IdentityPolicies: []json.RawMessage{pol},
			Principal: "arn:aws:sts::" + simAccount + ":assumed-role/Tessera-test-ProvisionerFunctionRole/provisioner",
			Action:    c.action, Resource: c.resource, AccountID: simAccount, Context: ctx})
		wants = append(wants, c.want)
	}
	results, err := iamsim.Run(iamsim.Script(t), reqs)
	if err != nil {
		t.Fatal(err)
	}
	iamsim.Check(t, reqs, results, wants)
}
