package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/control/tenantstack"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// tenantStackID is the construct id (and artifact id) of TenantStack.
const tenantStackID = "TenantStack"

// tenantStackVersion is the version of the TenantStack template, written
// into the template's Metadata (tenantstack.MetadataKey) and its
// TemplateVersion output, from which tenantstack.Version reads it and a
// stack reports the version it runs. Bump it with every change to the
// template, after copying the checked-in template to
// internal/control/tenantstack/TenantStack.previous.template.json (the
// version the tests update from). The fleet runner rolls a new version out
// to every dedicated tenant with UpdateStack (provision.Tables.Update).
//
// Version 1 (no version recorded) was the table and the change feed's
// mapping. Version 2 adds the throttling alarms (tableThrottleAlarms) and
// leaves the table's resource as it was, so that the update adds resources
// and touches the table only to tag it (see TestTenantStackUpdateKeepsTheTable
// in internal/control/tenantstack).
const tenantStackVersion = "2"

// tableThrottleAlarms are TenantStack's alarms on its table: throttled
// reads and throttled writes (DynamoDB's ReadThrottleEvents and
// WriteThrottleEvents, table dimension), summed over five minutes, in 2 of
// the last 3 periods. An on-demand table throttles when a tenant's traffic
// more than doubles its previous peak within 30 minutes or concentrates on
// a few keys: a premium tenant's signal to pre-warm its table or to look at
// its keys, which the pooled table's shared metrics cannot give per tenant.
// They are named after the table (<table>-read-throttles,
// <table>-write-throttles) and have no actions yet: CloudWatch shows their
// state (describe-alarms --alarm-name-prefix tessera-<stage>-tenant-).
var tableThrottleAlarms = []struct{ ID, Metric, NameSuffix, What string }{
	{"ReadThrottlesAlarm", "ReadThrottleEvents", "-read-throttles", "reads"},
	{"WriteThrottlesAlarm", "WriteThrottleEvents", "-write-throttles", "writes"},
}

// Settings of tableThrottleAlarms.
const (
	throttleAlarmPeriodMinutes = 5
	throttleAlarmPeriods       = 3
	throttleAlarmDatapoints    = 2
)

// TenantStackProps configures TenantStack. The stack is always
// environment-agnostic: the provisioner deploys it to its own account.
type TenantStackProps struct {
	awscdk.StackProps
}

// NewTenantStack defines the dedicated table of one premium tenant: named
// tessera-<Stage>-tenant-<TenantId> (access.DedicatedTable) and tagged
// tenantId and stage, the key schema of the pooled table, on demand,
// point-in-time recovery, encrypted with the tenant's own KMS key (created
// by the provisioner through the KMS API and passed as KeyArn), with a
// stream (new and old images) that the change feed consumes. Offboarding
// deletes the stack, and with it the table.
//
// The stream's event source mapping to the changefeed function is created
// only when ChangeFeedFunctionArn is set, with ChangeFeedDLQArn, the
// on-failure destination (a rule refuses the one without the other): the
// emulators cannot run Lambda, and a stack created there without them has
// the table and its stream alone.
//
// The template records its version (tenantStackVersion) in its Metadata
// and its TemplateVersion output, and alarms on the table's throttled
// reads and writes (tableThrottleAlarms).
//
// The provisioner deploys the template with CreateStack, never with `cdk
// deploy`, so it has no assets and no BootstrapVersion rule (which needs
// the bootstrap stack's SSM parameter, absent in emulators), and no
// CDKMetadata resource (which would make the checked-in copy change with
// every CDK upgrade).
func NewTenantStack(scope constructs.Construct, id string, props *TenantStackProps) awscdk.Stack {
	sp := props.StackProps
	sp.Synthesizer = awscdk.NewDefaultStackSynthesizer(&awscdk.DefaultStackSynthesizerProps{
		GenerateBootstrapVersionRule: jsii.Bool(false),
	})
	sp.AnalyticsReporting = jsii.Bool(false)
	if sp.Description == nil {
		sp.Description = jsii.String("Tessera premium tenant: dedicated DynamoDB table encrypted with the tenant's KMS key, its stream consumed by the change feed, alarms on its throttled reads and writes")
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &sp)
	stack.TemplateOptions().SetMetadata(&map[string]any{
		tenantstack.MetadataKey: map[string]any{tenantstack.MetadataVersionField: tenantStackVersion},
	})

	stage := awscdk.NewCfnParameter(stack, jsii.String(tenantstack.ParamStage), &awscdk.CfnParameterProps{
		Type:                  jsii.String("String"),
		Description:           jsii.String("Stage of the deployment the tenant belongs to"),
		AllowedPattern:        jsii.String(tenantstack.StagePattern),
		ConstraintDescription: jsii.String("a stage name: lowercase letters and digits, 1 to 12 characters, beginning with a letter"),
	})
	tenantID := awscdk.NewCfnParameter(stack, jsii.String(tenantstack.ParamTenantID), &awscdk.CfnParameterProps{
		Type:                  jsii.String("String"),
		Description:           jsii.String("Tenant id (generated, lowercase)"),
		AllowedPattern:        jsii.String(tenantstack.TenantIDPattern),
		ConstraintDescription: jsii.String("a lowercase tenant id: letters, digits and '-', 2 to 63 characters"),
	})
	keyArn := awscdk.NewCfnParameter(stack, jsii.String(tenantstack.ParamKeyArn), &awscdk.CfnParameterProps{
		Type:                  jsii.String("String"),
		Description:           jsii.String("ARN of the tenant's customer managed KMS key"),
		AllowedPattern:        jsii.String(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$`),
		ConstraintDescription: jsii.String("a KMS key ARN"),
	})

	table := awsdynamodb.NewTable(stack, jsii.String("Table"), &awsdynamodb.TableProps{
		TableName:    jsii.String(access.DedicatedTable(*stage.ValueAsString(), *tenantID.ValueAsString())),
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:      &awsdynamodb.Attribute{Name: jsii.String("sk"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		// Invitation counters expire through this attribute.
		TimeToLiveAttribute: jsii.String(store.InviteExpiryAttribute),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		// The change feed's source (changeFeedMapping below).
		Stream:        changeFeedStream,
		Encryption:    awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
		EncryptionKey: awskms.Key_FromKeyArn(stack, jsii.String("TenantKey"), keyArn.ValueAsString()),
		// Explicit: the CDK default is RETAIN, and offboarding deletes the
		// stack to delete the table (the key's deletion shreds backups).
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	awscdk.Tags_Of(table).Add(jsii.String(access.TenantTag), tenantID.ValueAsString(), nil)
	awscdk.Tags_Of(table).Add(jsii.String(access.StageTag), stage.ValueAsString(), nil)

	feedFn := awscdk.NewCfnParameter(stack, jsii.String(tenantstack.ParamChangeFeedFunctionArn), &awscdk.CfnParameterProps{
		Type:                  jsii.String("String"),
		Description:           jsii.String("ARN of the changefeed function that consumes the table's stream; empty for no event source mapping"),
		Default:               jsii.String(""),
		AllowedPattern:        jsii.String(changeFeedFunctionArnPattern),
		ConstraintDescription: jsii.String("empty, or a Lambda function ARN"),
	})
	feedDLQ := awscdk.NewCfnParameter(stack, jsii.String(tenantstack.ParamChangeFeedDLQArn), &awscdk.CfnParameterProps{
		Type:                  jsii.String("String"),
		Description:           jsii.String("ARN of the change feed's dead-letter queue (the mapping's on-failure destination); required with " + tenantstack.ParamChangeFeedFunctionArn),
		Default:               jsii.String(""),
		AllowedPattern:        jsii.String(changeFeedDLQArnPattern),
		ConstraintDescription: jsii.String("empty, or an SQS queue ARN"),
	})
	// A function without a dead-letter queue would drop the batches it
	// gives up on: CloudFormation refuses the stack instead.
	awscdk.NewCfnRule(stack, jsii.String(tenantstack.RuleChangeFeedNeedsDLQ), &awscdk.CfnRuleProps{
		RuleCondition: awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(feedFn.ValueAsString(), jsii.String(""))),
		Assertions: &[]*awscdk.CfnRuleAssertion{{
			Assert:            awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(feedDLQ.ValueAsString(), jsii.String(""))),
			AssertDescription: jsii.String(tenantstack.ParamChangeFeedDLQArn + " is required with " + tenantstack.ParamChangeFeedFunctionArn),
		}},
	})
	// Both parameters set (the rule above makes that the only case with a
	// function ARN; the condition says so again for cfn-lint, which
	// otherwise sees an empty destination ARN).
	feedOn := awscdk.NewCfnCondition(stack, jsii.String(tenantstack.ConditionChangeFeed), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionAnd(
			awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(feedFn.ValueAsString(), jsii.String(""))),
			awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(feedDLQ.ValueAsString(), jsii.String(""))),
		),
	})
	mapping := awslambda.NewCfnEventSourceMapping(stack, jsii.String("ChangeFeed"),
		changeFeedMapping(feedFn.ValueAsString(), table.TableStreamArn(), feedDLQ.ValueAsString()))
	mapping.CfnOptions().SetCondition(feedOn)

	for _, a := range tableThrottleAlarms {
		awscloudwatch.NewAlarm(stack, jsii.String(a.ID), &awscloudwatch.AlarmProps{
			AlarmName: awscdk.Fn_Join(jsii.String(""), &[]*string{table.TableName(), jsii.String(a.NameSuffix)}),
			AlarmDescription: awscdk.Fn_Join(jsii.String(""), &[]*string{
				jsii.String("Tessera premium tenant "), tenantID.ValueAsString(),
				jsii.String(fmt.Sprintf(": throttled %s on its dedicated table in %d of the last %d periods of %d minutes", a.What,
					throttleAlarmDatapoints, throttleAlarmPeriods, throttleAlarmPeriodMinutes)),
			}),
			Metric: table.Metric(jsii.String(a.Metric), &awscloudwatch.MetricOptions{
				Statistic: jsii.String("Sum"),
				Period:    awscdk.Duration_Minutes(jsii.Number(throttleAlarmPeriodMinutes)),
			}),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			Threshold:          jsii.Number(0),
			EvaluationPeriods:  jsii.Number(throttleAlarmPeriods),
			DatapointsToAlarm:  jsii.Number(throttleAlarmDatapoints),
			// No request, no throttle: no data is not an alarm.
			TreatMissingData: awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
	}

	awscdk.NewCfnOutput(stack, jsii.String(tenantstack.OutputTemplateVersion), &awscdk.CfnOutputProps{
		Value: jsii.String(tenantStackVersion), Description: jsii.String("Version of the TenantStack template the stack runs"),
	})
	awscdk.NewCfnOutput(stack, jsii.String(tenantstack.OutputTableName), &awscdk.CfnOutputProps{
		Value: table.TableName(), Description: jsii.String("The tenant's dedicated table"),
	})
	awscdk.NewCfnOutput(stack, jsii.String(tenantstack.OutputTableArn), &awscdk.CfnOutputProps{
		Value: table.TableArn(), Description: jsii.String("ARN of the tenant's dedicated table"),
	})
	return stack
}

// The AllowedPatterns of TenantStack's change feed parameters: empty, or an
// ARN of the kind (an unqualified function ARN; a queue ARN).
const (
	changeFeedFunctionArnPattern = `^$|^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}$`
	changeFeedDLQArnPattern      = `^$|^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,80}$`
)
