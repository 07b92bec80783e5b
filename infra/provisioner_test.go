package main

import (
	"reflect"
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
	arnPrefix     = "arn:${AWS::Partition}:"
	regionAccount = ":${AWS::Region}:${AWS::AccountId}:"
)

var (
	tenantStacksArn = arnPrefix + "cloudformation" + regionAccount + "stack/" + access.DedicatedTablePrefix(testStage) + "*/*"
	tenantTablesArn = arnPrefix + "dynamodb" + regionAccount + "table/" + access.DedicatedTablePrefix(testStage) + "*"
)

// kmsUseActions encrypt or decrypt with a key: only TenantDataAccessRole
// sessions of the key's tenant may (access.TenantKeyPolicy).
var kmsUseActions = []string{
	"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
	"kms:GenerateDataKeyPair", "kms:ReEncryptFrom", "kms:ReEncryptTo",
}

// flatProvisionerPolicy is access.ProvisionerPolicy as the test stage's
// template renders it.
func flatProvisionerPolicy() access.Policy {
	return access.ProvisionerPolicy(access.ProvisionerResources{
		Stage: testStage, Partition: "${AWS::Partition}", Region: "${AWS::Region}",
		Account: "${AWS::AccountId}", URLSuffix: "${AWS::URLSuffix}",
	})
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

// TestProvisionerPolicyIsAccessPolicy checks that the provisioner's
// control-plane statements are access.ProvisionerPolicy for the app's
// stage, statement for statement (the policy the simulator tests in
// internal/platform/access evaluate), and that no other statement of any
// function role grants a KMS action: no tagging, no PutKeyPolicy, no
// ListKeys, and no key use with a function's own credentials.
func TestProvisionerPolicyIsAccessPolicy(t *testing.T) {
	s := synth(t)
	want := flatProvisionerPolicy()
	sids := map[string]bool{}
	for _, st := range want.Statement {
		sids[st.Sid] = true
	}
	roleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", fnID(functionProvisioner)+"FunctionRole")
	var got []any
	for _, st := range roleStatements(s.AppJSON, roleID) {
		if sid, _ := st["Sid"].(string); sids[sid] {
			got = append(got, st)
		}
	}
	gotPol := normPolicy(map[string]any{"Version": "2012-10-17", "Statement": got})
	wantPol := normPolicy(want.Map())
	if !reflect.DeepEqual(gotPol, wantPol) {
		t.Errorf("provisioner control-plane statements\n got  %s\n want %s", jsonOf(gotPol), jsonOf(wantPol))
	}

	for _, spec := range functionSpecs {
		for i, st := range grantedStatements(s, t, spec.Name, "kms:") {
			sid, _ := st["Sid"].(string)
			if !spec.Provisioner || !sids[sid] {
				t.Errorf("%s: KMS statement %d outside access.ProvisionerPolicy: %s", spec.Name, i, jsonOf(st))
			}
			for _, a := range strs(st["Action"]) {
				if strings.Contains(a, "*") || slices.Contains(kmsUseActions, a) ||
					slices.Contains([]string{"kms:TagResource", "kms:UntagResource", "kms:PutKeyPolicy", "kms:ListKeys", "kms:ListResourceTags", "kms:DeleteAlias"}, a) {
					t.Errorf("%s: statement %d grants %s: %s", spec.Name, i, a, jsonOf(st))
				}
			}
		}
	}
}

// TestProvisionerControlPlaneScoped checks that CloudFormation and the
// DynamoDB control plane are the provisioner's alone (and the fleet
// function's, which updates TenantStacks: fleetStackActions and
// fleetTableActions), and only on the TenantStack stacks and tables of the
// app's stage (tessera-<stage>-tenant-*).
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
				if spec.ChangeFeed && (streamRead(st) || jsonOf(strs(st["Action"])) == `["dynamodb:ListStreams"]`) {
					// The stream reads Lambda makes with the change
					// feed's role (TestChangeFeedRole checks them).
					continue
				}
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
				wantCfn = sorted(append(slices.Clone(access.TenantStackActions), access.TenantStackCreateActions...))
				wantDDB = sorted(access.TenantTableControlActions)
			}
			if spec.Fleet { // fleet.go
				wantCfn, wantDDB = sorted(fleetStackActions), sorted(fleetTableActions)
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
// its own queue (delayed re-checks), and to no other; and who else may send
// to which queue.
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
		if spec.ChangeFeed {
			// Its mappings' on-failure destination.
			want = append(want, "${Data:"+s.DataJSON.logicalID(t, "AWS::SQS::Queue", "ChangeFeedDLQ")+".Arn}")
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
