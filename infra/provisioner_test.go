package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/route"
)

// Resource ARNs as flatten renders them.
const (
	arnPrefix         = "arn:${AWS::Partition}:"
	regionAccount     = ":${AWS::Region}:${AWS::AccountId}:"
	tenantKeysArn     = arnPrefix + "kms" + regionAccount + "key/*"
	tenantAliasesArn  = arnPrefix + "kms" + regionAccount + access.KeyAliasPrefix + "*"
	tenantStacksArn   = arnPrefix + "cloudformation" + regionAccount + "stack/" + access.DedicatedTablePrefix + "*/*"
	tenantTablesArn   = arnPrefix + "dynamodb" + regionAccount + "table/" + access.DedicatedTablePrefix + "*"
	tenantTagPresent  = `{"StringLike":{"aws:ResourceTag/` + access.TenantTag + `":"?*"}}`
	dynamoDBViaRegion = "dynamodb.${AWS::Region}.${AWS::URLSuffix}"
)

// kmsUseActions encrypt or decrypt with a key: only TenantDataAccessRole
// sessions of the key's tenant may (access.TenantKeyPolicy).
var kmsUseActions = []string{
	"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
	"kms:GenerateDataKeyPair", "kms:ReEncryptFrom", "kms:ReEncryptTo",
}

// grantedStatements returns a role's Allow statements that grant an action
// of the given service prefix ("kms:").
func grantedStatements(s *synthesized, t *testing.T, fn route.Function, prefix string) []map[string]any {
	t.Helper()
	roleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", fnID(fn)+"FunctionRole")
	var out []map[string]any
	for _, st := range roleStatements(s.AppJSON, roleID) {
		if st["Effect"] != "Allow" {
			continue
		}
		if slices.ContainsFunc(strs(st["Action"]), func(a string) bool { return strings.HasPrefix(strings.ToLower(a), prefix) }) {
			out = append(out, st)
		}
	}
	return out
}

func resourcesOf(st map[string]any) []string { return sortedFlat(st["Resource"]) }

// TestProvisionerKeyPermissions checks the provisioner's KMS statements:
// new keys only with a tenantId tag, every other key action only on keys
// tagged with a tenantId, grants only for DynamoDB, and no function role
// that may encrypt or decrypt with its own credentials.
func TestProvisionerKeyPermissions(t *testing.T) {
	s := synth(t)
	stmts := grantedStatements(s, t, functionProvisioner, "kms:")
	if len(stmts) == 0 {
		t.Fatal("the provisioner role has no KMS statement")
	}
	var granted []string
	for i, st := range stmts {
		actions := strs(st["Action"])
		granted = append(granted, actions...)
		res := resourcesOf(st)
		cond := jsonOf(st["Condition"])
		for _, a := range actions {
			if strings.Contains(a, "*") {
				t.Errorf("statement %d grants the wildcard action %s: %s", i, a, jsonOf(st))
			}
			if slices.Contains(kmsUseActions, a) {
				t.Errorf("statement %d grants %s to the provisioner's own role: %s", i, a, jsonOf(st))
			}
		}
		switch {
		case slices.Contains(actions, "kms:CreateKey"):
			want := `{"ForAllValues:StringEquals":{"aws:TagKeys":["` + access.TenantTag + `"]},"StringLike":{"aws:RequestTag/` + access.TenantTag + `":"?*"}}`
			if cond != want {
				t.Errorf("CreateKey statement %d: Condition = %s, want %s", i, cond, want)
			}
			if !slices.Equal(sorted(actions), []string{"kms:CreateKey", "kms:TagResource"}) {
				t.Errorf("CreateKey statement %d grants %v, want only CreateKey and TagResource (tag on create)", i, actions)
			}
		case slices.Equal(actions, []string{"kms:ListKeys"}):
			// No resource-level permission exists for ListKeys.
		case slices.Equal(res, []string{tenantAliasesArn}):
			if !slices.Equal(sorted(actions), []string{"kms:CreateAlias", "kms:DeleteAlias"}) {
				t.Errorf("alias statement %d grants %v", i, actions)
			}
		case slices.Equal(actions, []string{"kms:ListResourceTags"}):
			if !slices.Equal(res, []string{tenantKeysArn}) {
				t.Errorf("ListResourceTags statement %d on %v, want keys only", i, res)
			}
		case slices.Contains(actions, "kms:CreateGrant"):
			want := jsonOf(map[string]any{
				"Bool":         map[string]any{"kms:GrantIsForAWSResource": "true"},
				"StringEquals": map[string]any{"kms:ViaService": dynamoDBViaRegion},
				"StringLike":   map[string]any{"aws:ResourceTag/" + access.TenantTag: "?*"},
			})
			if got := jsonOf(normConditions(st["Condition"])); got != want {
				t.Errorf("CreateGrant statement %d: Condition = %s, want %s", i, got, want)
			}
			if !slices.Equal(actions, []string{"kms:CreateGrant"}) || !slices.Equal(res, []string{tenantKeysArn}) {
				t.Errorf("CreateGrant statement %d: %s", i, jsonOf(st))
			}
		default:
			if !slices.Equal(res, []string{tenantKeysArn}) || cond != tenantTagPresent {
				t.Errorf("statement %d must be on keys tagged with a tenantId (%s, %s): %s", i, tenantKeysArn, tenantTagPresent, jsonOf(st))
			}
		}
	}
	for _, a := range append(slices.Clone(tenantKeyActions), "kms:CreateKey", "kms:TagResource", "kms:CreateGrant", "kms:ListKeys", "kms:ListResourceTags") {
		if !slices.Contains(granted, a) {
			t.Errorf("the provisioner lacks %s", a)
		}
	}

	for _, spec := range functionSpecs {
		if spec.Provisioner {
			continue
		}
		if st := grantedStatements(s, t, spec.Name, "kms:"); len(st) > 0 {
			t.Errorf("the %s role has KMS statements: %s", spec.Name, jsonOf(st))
		}
	}
}

// normConditions renders a condition block with tokens flattened.
func normConditions(v any) map[string]any {
	out := map[string]any{}
	c, _ := v.(map[string]any)
	for op, kv := range c {
		m := map[string]any{}
		for k, val := range kv.(map[string]any) {
			m[k] = flatten(val)
		}
		out[op] = m
	}
	return out
}

// TestProvisionerControlPlaneScoped checks that CloudFormation and the
// DynamoDB control plane are the provisioner's alone, and only on the
// TenantStack stacks and tables (tessera-tenant-*).
func TestProvisionerControlPlaneScoped(t *testing.T) {
	s := synth(t)
	for _, spec := range functionSpecs {
		t.Run(string(spec.Name), func(t *testing.T) {
			var cfn, ddbControl []string
			for i, st := range grantedStatements(s, t, spec.Name, "cloudformation:") {
				cfn = append(cfn, strs(st["Action"])...)
				if res := resourcesOf(st); !slices.Equal(res, []string{tenantStacksArn}) {
					t.Errorf("CloudFormation statement %d on %v, want only %s", i, res, tenantStacksArn)
				}
			}
			for i, st := range grantedStatements(s, t, spec.Name, "dynamodb:") {
				var control []string
				for _, a := range strs(st["Action"]) {
					if !slices.ContainsFunc(dynamoDataActions, func(d string) bool { return actionMatches(a, d) }) {
						control = append(control, a)
					}
				}
				if len(control) == 0 {
					continue
				}
				ddbControl = append(ddbControl, control...)
				if res := resourcesOf(st); !slices.Equal(res, []string{tenantTablesArn}) {
					t.Errorf("DynamoDB control-plane statement %d (%v) on %v, want only %s", i, control, res, tenantTablesArn)
				}
				if len(control) != len(strs(st["Action"])) {
					t.Errorf("statement %d mixes item and control-plane actions: %s", i, jsonOf(st))
				}
			}
			slices.Sort(cfn)
			slices.Sort(ddbControl)
			var wantCfn, wantDDB []string
			if spec.Provisioner {
				wantCfn, wantDDB = sorted(tenantStackActions), sorted(tenantTableControlActions)
			}
			if !slices.Equal(cfn, wantCfn) {
				t.Errorf("CloudFormation actions %v, want %v", cfn, wantCfn)
			}
			if !slices.Equal(ddbControl, wantDDB) {
				t.Errorf("DynamoDB control-plane actions %v, want %v", ddbControl, wantDDB)
			}
		})
	}
}

// TestProvisionerConsumesQueue checks the provisioner's event source:
// partial batch responses, bounded concurrency; and that it may send to
// its own queue (delayed re-checks), and to no other.
func TestProvisionerConsumesQueue(t *testing.T) {
	s := synth(t)
	queueID := s.DataJSON.logicalID(t, "AWS::SQS::Queue", "ProvisioningQueue")
	fnLogicalID := s.AppJSON.logicalID(t, "AWS::Lambda::Function", fnID(functionProvisioner)+"Function")
	var mappings int
	for id, m := range s.AppJSON.resources("AWS::Lambda::EventSourceMapping") {
		p := props(m)
		if jsonOf(p["FunctionName"]) != jsonOf(ref(fnLogicalID)) {
			continue
		}
		mappings++
		for k, want := range map[string]any{
			"BatchSize":             provisioningBatchSize,
			"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
			"ScalingConfig":         map[string]any{"MaximumConcurrency": provisioningMaxConcurrency},
		} {
			if jsonOf(p[k]) != jsonOf(want) {
				t.Errorf("%s: %s = %s, want %s", id, k, jsonOf(p[k]), jsonOf(want))
			}
		}
		if got := flatten(p["EventSourceArn"]); got != "${Data:"+queueID+".Arn}" {
			t.Errorf("%s: EventSourceArn = %s, want the provisioning queue", id, got)
		}
	}
	if mappings != 1 {
		t.Errorf("the provisioner has %d event sources, want 1 (the provisioning queue)", mappings)
	}

	// Who may send to which queue: the provisioner to its own, the api
	// function to the tier export queues, nobody else to any.
	exportQueues := make([]string, 0, len(plan.Tiers))
	for _, tier := range plan.Tiers {
		exportQueues = append(exportQueues, "${Data:"+s.DataJSON.logicalID(t, "AWS::SQS::Queue", "Export"+title(string(tier))+"Queue")+".Arn}")
	}
	slices.Sort(exportQueues)
	for _, spec := range functionSpecs {
		var sendsTo []string
		for _, st := range grantedStatements(s, t, spec.Name, "sqs:") {
			if slices.ContainsFunc(strs(st["Action"]), func(a string) bool { return actionMatches(a, "sqs:SendMessage") }) {
				sendsTo = append(sendsTo, resourcesOf(st)...)
			}
		}
		slices.Sort(sendsTo)
		var want []string
		if spec.Provisioner {
			want = append(want, "${Data:"+queueID+".Arn}")
		}
		if spec.RequestsExports {
			want = append(want, exportQueues...)
		}
		slices.Sort(want)
		if !slices.Equal(sendsTo, want) {
			t.Errorf("%s may send to %v, want %v", spec.Name, sendsTo, want)
		}
	}
}

// TestFunctionUserPoolAndBusAccess checks each role's Cognito and
// EventBridge actions against its spec, on the pool and the bus only.
func TestFunctionUserPoolAndBusAccess(t *testing.T) {
	s := synth(t)
	poolID := s.DataJSON.logicalID(t, "AWS::Cognito::UserPool", "UserPool")
	busID := s.DataJSON.logicalID(t, "AWS::Events::EventBus", "Bus")
	for _, spec := range functionSpecs {
		t.Run(string(spec.Name), func(t *testing.T) {
			var cognito []string
			for i, st := range grantedStatements(s, t, spec.Name, "cognito-idp:") {
				cognito = append(cognito, strs(st["Action"])...)
				if res := resourcesOf(st); !slices.Equal(res, []string{"${Data:" + poolID + ".Arn}"}) {
					t.Errorf("Cognito statement %d on %v, want only the user pool", i, res)
				}
			}
			if want := sorted(spec.UserPoolActions); !slices.Equal(sorted(cognito), want) {
				t.Errorf("Cognito actions %v, want %v", cognito, want)
			}
			var put bool
			for i, st := range grantedStatements(s, t, spec.Name, "events:") {
				put = true
				if a := strs(st["Action"]); !slices.Equal(a, []string{"events:PutEvents"}) {
					t.Errorf("EventBridge statement %d grants %v", i, a)
				}
				if res := resourcesOf(st); !slices.Equal(res, []string{"${Data:" + busID + ".Arn}"}) {
					t.Errorf("EventBridge statement %d on %v, want only the bus", i, res)
				}
			}
			if put != spec.PutEvents {
				t.Errorf("may put events: %v, want %v", put, spec.PutEvents)
			}
		})
	}
}

// TestOutboxSweepSchedule checks that the tenants function is invoked every
// five minutes with the sweep request.
func TestOutboxSweepSchedule(t *testing.T) {
	s := synth(t)
	fnLogicalID := s.AppJSON.logicalID(t, "AWS::Lambda::Function", "TenantsFunction")
	check(t, "rule", func() {
		s.App.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
			"ScheduleExpression": "rate(5 minutes)",
			"State":              "ENABLED",
			"Targets": []any{assertions.Match_ObjectLike(&map[string]any{
				"Arn":   getAttArn(fnLogicalID),
				"Input": `{"tessera":"sweep-outbox"}`,
			})},
		})
	})
	check(t, "permission", func() {
		s.App.HasResourceProperties(jsii.String("AWS::Lambda::Permission"), map[string]any{
			"Action":       "lambda:InvokeFunction",
			"FunctionName": getAttArn(fnLogicalID),
			"Principal":    "events.amazonaws.com",
			"SourceArn":    map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^OutboxSweep")), "Arn"}},
		})
	})
}

// sorted returns a sorted copy of s.
func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
