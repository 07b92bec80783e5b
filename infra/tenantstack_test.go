package main

import (
	"bytes"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/control/tenantstack"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

const regenerateHint = "regenerate it with `make synth` (go run -C infra . -write-tenant-template internal/control/tenantstack/TenantStack.template.json)"

func TestTenantStackTable(t *testing.T) {
	s := synth(t)
	check(t, "table", func() {
		s.Tenant.HasResource(jsii.String("AWS::DynamoDB::Table"), map[string]any{
			"DeletionPolicy":      "Delete",
			"UpdateReplacePolicy": "Delete",
			"Properties": assertions.Match_ObjectLike(&map[string]any{
				"TableName": map[string]any{"Fn::Join": []any{"", []any{"tessera-", ref(tenantstack.ParamStage), "-tenant-", ref(tenantstack.ParamTenantID)}}},
				"Tags": []any{
					map[string]any{"Key": access.StageTag, "Value": ref(tenantstack.ParamStage)},
					map[string]any{"Key": access.TenantTag, "Value": ref(tenantstack.ParamTenantID)},
				},
				"KeySchema": []any{
					map[string]any{"AttributeName": "pk", "KeyType": "HASH"},
					map[string]any{"AttributeName": "sk", "KeyType": "RANGE"},
				},
				"AttributeDefinitions": []any{
					map[string]any{"AttributeName": "pk", "AttributeType": "S"},
					map[string]any{"AttributeName": "sk", "AttributeType": "S"},
				},
				"BillingMode":                      "PAY_PER_REQUEST",
				"TimeToLiveSpecification":          map[string]any{"AttributeName": store.InviteExpiryAttribute, "Enabled": true},
				"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
				"SSESpecification": map[string]any{
					"SSEEnabled":     true,
					"SSEType":        "KMS",
					"KMSMasterKeyId": ref(tenantstack.ParamKeyArn),
				},
			}),
		})
	})
	check(t, "parameters", func() {
		s.Tenant.HasParameter(jsii.String(tenantstack.ParamTenantID), map[string]any{
			"Type": "String", "AllowedPattern": tenantstack.TenantIDPattern,
		})
		s.Tenant.HasParameter(jsii.String(tenantstack.ParamKeyArn), map[string]any{"Type": "String"})
		s.Tenant.HasParameter(jsii.String(tenantstack.ParamStage), map[string]any{
			"Type": "String", "AllowedPattern": tenantstack.StagePattern,
		})
	})
	check(t, "outputs", func() {
		tableID := s.TenantJSON.logicalID(t, "AWS::DynamoDB::Table", "Table")
		s.Tenant.HasOutput(jsii.String(tenantstack.OutputTableName), map[string]any{"Value": ref(tableID)})
		s.Tenant.HasOutput(jsii.String(tenantstack.OutputTableArn), map[string]any{"Value": getAttArn(tableID)})
	})

	// Deployable by CreateStack alone (and by moto): nothing but the table,
	// under its condition the change feed's mapping
	// (TestTenantStackChangeFeedMapping) and the table's alarms
	// (TestTenantStackAlarms); no rule but the change feed's (no bootstrap
	// version rule), no CDK metadata, no assets.
	res, _ := s.TenantJSON["Resources"].(map[string]any)
	tableID := s.TenantJSON.logicalID(t, "AWS::DynamoDB::Table", "Table")
	mappingID := s.TenantJSON.logicalID(t, "AWS::Lambda::EventSourceMapping", "ChangeFeed")
	readID := s.TenantJSON.logicalID(t, "AWS::CloudWatch::Alarm", "ReadThrottlesAlarm")
	writeID := s.TenantJSON.logicalID(t, "AWS::CloudWatch::Alarm", "WriteThrottlesAlarm")
	if want := []string{mappingID, readID, tableID, writeID}; jsonOf(keys(res)) != jsonOf(want) {
		t.Errorf("TenantStack resources = %v, want only the table, the change feed mapping and the alarms %v", keys(res), want)
	}
	rules, _ := s.TenantJSON["Rules"].(map[string]any)
	if want := []string{tenantstack.RuleChangeFeedNeedsDLQ}; jsonOf(keys(rules)) != jsonOf(want) {
		t.Errorf("TenantStack rules = %v, want %v", keys(rules), want)
	}
	conds, _ := s.TenantJSON["Conditions"].(map[string]any)
	if want := []string{tenantstack.ConditionChangeFeed}; jsonOf(keys(conds)) != jsonOf(want) {
		t.Errorf("TenantStack conditions = %v, want %v", keys(conds), want)
	}
	params, _ := s.TenantJSON["Parameters"].(map[string]any)
	if want := []string{
		tenantstack.ParamChangeFeedDLQArn, tenantstack.ParamChangeFeedFunctionArn,
		tenantstack.ParamKeyArn, tenantstack.ParamStage, tenantstack.ParamTenantID,
	}; jsonOf(keys(params)) != jsonOf(want) {
		t.Errorf("TenantStack parameters = %v, want %v", keys(params), want)
	}
}

// TestTenantStackAlarms: one alarm on the table's throttled reads and one
// on its throttled writes, named after the table, without actions.
func TestTenantStackAlarms(t *testing.T) {
	s := synth(t)
	tableID := s.TenantJSON.logicalID(t, "AWS::DynamoDB::Table", "Table")
	for _, a := range []struct{ metric, suffix string }{{"ReadThrottleEvents", "-read-throttles"}, {"WriteThrottleEvents", "-write-throttles"}} {
		check(t, a.metric, func() {
			s.Tenant.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
				"AlarmName":          map[string]any{"Fn::Join": []any{"", []any{ref(tableID), a.suffix}}},
				"Namespace":          "AWS/DynamoDB",
				"MetricName":         a.metric,
				"Dimensions":         []any{map[string]any{"Name": "TableName", "Value": ref(tableID)}},
				"Statistic":          "Sum",
				"Period":             throttleAlarmPeriodMinutes * 60,
				"ComparisonOperator": "GreaterThanThreshold",
				"Threshold":          0,
				"EvaluationPeriods":  throttleAlarmPeriods,
				"DatapointsToAlarm":  throttleAlarmDatapoints,
				"TreatMissingData":   "notBreaching",
				"AlarmActions":       assertions.Match_Absent(),
			})
		})
	}
}

// TestTenantStackVersion: the template records tenantStackVersion in its
// Metadata and its TemplateVersion output, and the checked-in copy is that
// version (tenantstack.Version reads it).
func TestTenantStackVersion(t *testing.T) {
	s := synth(t)
	meta, _ := s.TenantJSON["Metadata"].(map[string]any)
	if got := jsonOf(meta); got != jsonOf(map[string]any{tenantstack.MetadataKey: map[string]any{tenantstack.MetadataVersionField: tenantStackVersion}}) {
		t.Errorf("TenantStack Metadata = %s, want %s.%s = %s", got, tenantstack.MetadataKey, tenantstack.MetadataVersionField, tenantStackVersion)
	}
	check(t, "version output", func() {
		s.Tenant.HasOutput(jsii.String(tenantstack.OutputTemplateVersion), map[string]any{"Value": tenantStackVersion})
	})
	if tenantstack.Version() != tenantStackVersion {
		t.Errorf("the checked-in template is version %s, infra's is %s; %s", tenantstack.Version(), tenantStackVersion, regenerateHint)
	}
	if tenantstack.PreviousVersion() == tenantStackVersion {
		t.Errorf("TenantStack.previous.template.json is version %s too: copy the checked-in template there before bumping tenantStackVersion", tenantStackVersion)
	}
}

// TestTenantTemplateUpToDate fails while the copy the provisioner deploys
// (internal/control/tenantstack) differs from a fresh synth.
func TestTenantTemplateUpToDate(t *testing.T) {
	if stagePattern.String() != tenantstack.StagePattern {
		t.Errorf("the app's stage pattern %s differs from TenantStack's %s", stagePattern, tenantstack.StagePattern)
	}
	s := synth(t)
	fresh, err := synthTenantTemplate(s.Root)
	if err != nil {
		t.Fatal(err)
	}
	checkedIn, err := canonicalJSON(tenantstack.Template())
	if err != nil {
		t.Fatalf("internal/control/tenantstack/TenantStack.template.json: %v; %s", err, regenerateHint)
	}
	if !bytes.Equal(fresh, checkedIn) {
		t.Errorf("internal/control/tenantstack/TenantStack.template.json is stale; %s\nfresh synth:\n%s", regenerateHint, fresh)
	}
	if n := len(tenantstack.TemplateBody()); n > 51_200 {
		t.Errorf("template is %d bytes; CreateStack's TemplateBody takes at most 51,200", n)
	}
}
