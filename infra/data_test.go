package main

import (
	"slices"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// TestTablesPITRAndSSE checks every table of every stack, and that no
// stack uses AWS::DynamoDB::GlobalTable (TableV2), which moto skips.
func TestTablesPITRAndSSE(t *testing.T) {
	s := synth(t)
	for _, tc := range []struct {
		name   string
		tmpl   assertions.Template
		json   cfnTemplate
		tables int
	}{
		{"data", s.Data, s.DataJSON, 2},
		{"app", s.App, s.AppJSON, 0},
		{"tenant", s.Tenant, s.TenantJSON, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, "ResourceCountIs", func() {
				tc.tmpl.ResourceCountIs(jsii.String("AWS::DynamoDB::Table"), jsii.Number(tc.tables))
			})
			check(t, "ResourceCountIs", func() {
				tc.tmpl.ResourceCountIs(jsii.String("AWS::DynamoDB::GlobalTable"), jsii.Number(0))
			})
			for id, tbl := range tc.json.resources("AWS::DynamoDB::Table") {
				p := props(tbl)
				if jsonOf(p["PointInTimeRecoverySpecification"]) != `{"PointInTimeRecoveryEnabled":true}` {
					t.Errorf("%s: PITR = %s", id, jsonOf(p["PointInTimeRecoverySpecification"]))
				}
				if sse, _ := p["SSESpecification"].(map[string]any); sse["SSEEnabled"] != true {
					t.Errorf("%s: SSESpecification = %s", id, jsonOf(p["SSESpecification"]))
				}
				if p["BillingMode"] != "PAY_PER_REQUEST" {
					t.Errorf("%s: BillingMode = %v", id, p["BillingMode"])
				}
				if got := jsonOf(p["KeySchema"]); got != `[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}]` {
					t.Errorf("%s: KeySchema = %s", id, got)
				}
			}
		})
	}
}

// TestProdProtection synthesizes the data stack for stage prod: tables and
// the user pool are protected from deletion and retained.
func TestProdProtection(t *testing.T) {
	for _, tc := range []struct {
		stage      string
		protected  any // matcher of DeletionProtection(Enabled)
		wantPolicy string
	}{
		{"prod", true, "Retain"},
		{"dev", assertions.Match_Not(true), "Delete"},
	} {
		t.Run(tc.stage, func(t *testing.T) {
			app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
			d := NewDataStack(app, "Data", &DataStackProps{Config: config{Stage: tc.stage}})
			tmpl := assertions.Template_FromStack(d.Stack, nil)
			check(t, "tables", func() {
				tmpl.AllResources(jsii.String("AWS::DynamoDB::Table"), map[string]any{
					"DeletionPolicy": tc.wantPolicy,
					"Properties":     assertions.Match_ObjectLike(&map[string]any{"DeletionProtectionEnabled": tc.protected}),
				})
			})
			check(t, "user pool", func() {
				tmpl.AllResources(jsii.String("AWS::Cognito::UserPool"), map[string]any{
					"DeletionPolicy": tc.wantPolicy,
					"Properties":     assertions.Match_ObjectLike(&map[string]any{"DeletionProtection": map[bool]string{true: "ACTIVE", false: "INACTIVE"}[tc.stage == "prod"]}),
				})
			})
		})
	}
}

// TestTenantAttributesImmutable checks that tenantId and role are
// immutable custom attributes that the app client cannot write.
func TestTenantAttributesImmutable(t *testing.T) {
	s := synth(t)
	pools := s.DataJSON.resources("AWS::Cognito::UserPool")
	if len(pools) != 1 {
		t.Fatalf("found %d user pools, want 1", len(pools))
	}
	for _, pool := range pools {
		schema := map[string]map[string]any{}
		for _, a := range list(props(pool)["Schema"]) {
			m := a.(map[string]any)
			schema[m["Name"].(string)] = m
		}
		for _, attr := range []string{attrTenantID, attrRole} {
			a, ok := schema[attr]
			if !ok {
				t.Errorf("custom attribute %s missing from the schema", attr)
				continue
			}
			if a["Mutable"] != false {
				t.Errorf("custom attribute %s: Mutable = %v, want false", attr, a["Mutable"])
			}
		}
		if props(pool)["AdminCreateUserConfig"].(map[string]any)["AllowAdminCreateUserOnly"] != true {
			t.Error("self sign-up is open")
		}
	}

	clients := s.DataJSON.resources("AWS::Cognito::UserPoolClient")
	if len(clients) != 1 {
		t.Fatalf("found %d app clients, want 1", len(clients))
	}
	for _, c := range clients {
		p := props(c)
		// Without WriteAttributes a client may write every attribute.
		write := strs(p["WriteAttributes"])
		if len(write) == 0 {
			t.Fatal("app client has no WriteAttributes: it could write every attribute")
		}
		for _, a := range []string{"custom:" + attrTenantID, "custom:" + attrRole} {
			if slices.Contains(write, a) {
				t.Errorf("app client may write %s", a)
			}
			if !slices.Contains(strs(p["ReadAttributes"]), a) {
				t.Errorf("app client cannot read %s (the ID token would lack it)", a)
			}
		}
		if p["GenerateSecret"] != false {
			t.Errorf("GenerateSecret = %v", p["GenerateSecret"])
		}
		flows := strs(p["ExplicitAuthFlows"])
		for _, f := range []string{"ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"} {
			if !slices.Contains(flows, f) {
				t.Errorf("ExplicitAuthFlows %v lacks %s", flows, f)
			}
		}
	}
	check(t, "HasResourceProperties", func() {
		s.Data.HasResourceProperties(jsii.String("AWS::Cognito::UserPoolGroup"), map[string]any{"GroupName": operatorsGroup})
	})
}

// TestOnboardingRule checks that the control-plane events the provisioner
// handles reach the provisioning queue, which has a dead-letter queue and a
// visibility timeout of at least six times the provisioner's timeout.
func TestOnboardingRule(t *testing.T) {
	s := synth(t)
	queueID := s.DataJSON.logicalID(t, "AWS::SQS::Queue", "ProvisioningQueue")
	dlqID := s.DataJSON.logicalID(t, "AWS::SQS::Queue", "ProvisioningDLQ")
	check(t, "HasResourceProperties", func() {
		s.Data.HasResourceProperties(jsii.String("AWS::Events::EventBus"), map[string]any{"Name": "tessera-" + testStage})
	})
	check(t, "HasResourceProperties", func() {
		s.Data.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
			"EventPattern": map[string]any{
				"source":      []any{bus.Source},
				"detail-type": provisioningDetailTypes(t),
			},
			"Targets": []any{assertions.Match_ObjectLike(&map[string]any{
				"Arn":              getAttArn(queueID),
				"DeadLetterConfig": map[string]any{"Arn": getAttArn(dlqID)},
			})},
		})
	})
	check(t, "HasResourceProperties", func() {
		s.Data.HasResourceProperties(jsii.String("AWS::SQS::Queue"), map[string]any{
			// provision.MaxAttempts + 1, as the local queue has it (README).
			"RedrivePolicy": map[string]any{"deadLetterTargetArn": getAttArn(dlqID), "maxReceiveCount": 6},
		})
	})

	visibility, _ := props(s.DataJSON.resources("AWS::SQS::Queue")[queueID])["VisibilityTimeout"].(float64)
	provisionerID := s.AppJSON.logicalID(t, "AWS::Lambda::Function", fnID(functionProvisioner)+"Function")
	timeout, _ := props(s.AppJSON.resources("AWS::Lambda::Function")[provisionerID])["Timeout"].(float64)
	if timeout != provisionerTimeout.Seconds() {
		t.Errorf("provisioner Timeout = %v s, want %v s", timeout, provisionerTimeout.Seconds())
	}
	if timeout <= 0 || visibility < 6*timeout {
		t.Errorf("provisioning queue VisibilityTimeout = %v s, want at least 6 × the provisioner's %v s", visibility, timeout)
	}
}

// TestCatalogTTL: the catalog table expires items through the attribute the
// store writes on idempotency keys, and the pooled table through the one it
// writes on invitation counters.
func TestCatalogTTL(t *testing.T) {
	s := synth(t)
	tables := s.DataJSON.resources("AWS::DynamoDB::Table")
	catalog := props(tables[s.DataJSON.logicalID(t, "AWS::DynamoDB::Table", "CatalogTable")])
	if got := jsonOf(catalog["TimeToLiveSpecification"]); got != `{"AttributeName":"`+store.CatalogTTLAttribute+`","Enabled":true}` {
		t.Errorf("catalog TimeToLiveSpecification = %s", got)
	}
	pooled := props(tables[s.DataJSON.logicalID(t, "AWS::DynamoDB::Table", "PooledTable")])
	if got := jsonOf(pooled["TimeToLiveSpecification"]); got != `{"AttributeName":"`+store.InviteExpiryAttribute+`","Enabled":true}` {
		t.Errorf("pooled TimeToLiveSpecification = %s", got)
	}
}

// provisioningDetailTypes are the detail-types the provisioning rule
// delivers: the provisioner's events (provisioningEvents), among them
// onboarding, tier changes, offboarding, and backup and restore requests.
func provisioningDetailTypes(t *testing.T) []any {
	t.Helper()
	var out []any
	for _, dt := range provisioningEvents {
		out = append(out, string(dt))
	}
	for _, want := range []bus.DetailType{bus.TenantOnboardingRequested, bus.TenantTierChanged, bus.TenantOffboardingRequested,
		bus.TenantBackupRequested, bus.TenantRestoreRequested} {
		if !slices.Contains(provisioningEvents, want) {
			t.Errorf("the provisioning queue does not receive %s", want)
		}
	}
	return out
}
