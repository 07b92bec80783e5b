package main

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// Catalog item actions. TransactWriteItems has no IAM action of its own:
// IAM authorizes each of its items as PutItem, UpdateItem, DeleteItem or
// ConditionCheckItem.
var (
	catalogReadActions      = []string{"dynamodb:GetItem"}
	catalogReadWriteActions = []string{
		"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
		"dynamodb:Query", "dynamodb:ConditionCheckItem",
	}
)

// usageLedgerActions are what store.Ledger.Record calls: a conditional
// PutItem per tenant and hour. Reading the ledger (Totals, a Query) is the
// operator's usage report, not a function's.
var usageLedgerActions = []string{"dynamodb:PutItem"}

// tenantTableControlActions are the DynamoDB control-plane actions
// CloudFormation performs with the provisioner's credentials when it creates,
// tags or deletes a TenantStack table. None reads or writes an item.
var tenantTableControlActions = []string{
	"dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:UpdateTable", "dynamodb:DeleteTable",
	"dynamodb:UpdateContinuousBackups", "dynamodb:DescribeContinuousBackups",
	"dynamodb:TagResource", "dynamodb:UntagResource", "dynamodb:ListTagsOfResource",
}

// tenantStackActions are the CloudFormation actions of the provisioner on
// TenantStack stacks. CreateStack passes a tenantId stack tag, hence
// TagResource.
var tenantStackActions = []string{
	"cloudformation:CreateStack", "cloudformation:DescribeStacks", "cloudformation:DeleteStack",
	"cloudformation:TagResource",
}

// tenantKeyActions are what the provisioner may do to existing tenant keys
// (keys tagged with a tenantId).
var tenantKeyActions = []string{
	"kms:DescribeKey", "kms:CreateAlias", "kms:DeleteAlias", "kms:DisableKey",
	"kms:ScheduleKeyDeletion", "kms:PutKeyPolicy",
}

// grantFunction gives a function role what its spec says, and nothing of
// tenant data: a TenantData function reaches tenant items only through
// TenantDataAccessRole sessions.
func grantFunction(data *DataStack, dataRole awsiam.Role, spec functionSpec, role awsiam.Role) {
	if spec.TenantData {
		// Tenant sessions only: assume the data-access role with the
		// tenantId session tag.
		dataRole.Grant(role, jsii.String("sts:AssumeRole"), jsii.String("sts:TagSession"))
	}
	// Catalog items, in hand-written statements: Table.Grant* would add the
	// catalog's index (every index) and more actions than needed.
	switch spec.Catalog {
	case catalogRead:
		role.AddToPrincipalPolicy(statement("CatalogRead", catalogReadActions, nil, data.CatalogTable.TableArn()))
	case catalogReadWrite, catalogReadWriteList:
		role.AddToPrincipalPolicy(statement("CatalogReadWrite", catalogReadWriteActions, nil, data.CatalogTable.TableArn()))
	}
	if spec.Catalog == catalogReadWriteList {
		role.AddToPrincipalPolicy(statement("CatalogListIndex", []string{"dynamodb:Query"}, nil,
			jsii.String(*data.CatalogTable.TableArn()+"/index/"+store.CatalogIndex)))
	}
	if spec.UsageLedger {
		// Usage ledger items only: every leading key starts with
		// store.UsagePrefix, which no tenant record's key does.
		role.AddToPrincipalPolicy(fromAccess(access.PrefixedItemsStatement(
			"UsageLedgerWrite", *data.CatalogTable.TableArn(), store.UsagePrefix, usageLedgerActions...)))
	}
	if spec.RequestsExports {
		grantExportRequests(data, role)
	}
	if spec.PutEvents {
		data.Bus.GrantPutEventsTo(role, nil)
	}
	if len(spec.UserPoolActions) > 0 {
		data.UserPool.Grant(role, *jsii.Strings(spec.UserPoolActions...)...)
	}
}

// grantProvisioner gives the provisioner's role its control-plane
// permissions: tenant keys (KMS API), TenantStack stacks, and the tables
// CloudFormation creates for them with the provisioner's credentials.
func grantProvisioner(stack awscdk.Stack, data *DataStack, role awsiam.Role) {
	tenantTagged := map[string]any{"StringLike": map[string]any{"aws:ResourceTag/" + access.TenantTag: "?*"}}
	keys := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("kms"), Resource: jsii.String("key"), ResourceName: jsii.String("*")})

	// New keys: only with a tenantId tag and no other tag. CreateKey has no
	// resource; tagging on create needs TagResource in an IAM policy not
	// restricted to particular keys (KMS developer guide, "Controlling
	// access to tags"), hence "*" for both.
	role.AddToPrincipalPolicy(statement("CreateTenantKeys", []string{"kms:CreateKey", "kms:TagResource"}, map[string]any{
		"StringLike":                map[string]any{"aws:RequestTag/" + access.TenantTag: "?*"},
		"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": []string{access.TenantTag}},
	}, jsii.String("*")))
	// The tenant aliases (alias side of CreateAlias / DeleteAlias).
	role.AddToPrincipalPolicy(statement("TenantKeyAliases", []string{"kms:CreateAlias", "kms:DeleteAlias"}, nil,
		stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("kms"), Resource: jsii.String("alias"),
			ResourceName: jsii.String(strings.TrimPrefix(access.KeyAliasPrefix, "alias/") + "*"),
		})))
	// Existing tenant keys (key side of the alias actions, lifecycle).
	role.AddToPrincipalPolicy(statement("ManageTenantKeys", tenantKeyActions, tenantTagged, keys))
	// Crash recovery (tenantkey.EnsureRecovering) looks for an orphan key
	// by its tags: ListKeys has no resource-level permission; tags are read
	// on keys only, and a key whose tags it cannot read is skipped.
	role.AddToPrincipalPolicy(statement("ListKeys", []string{"kms:ListKeys"}, nil, jsii.String("*")))
	role.AddToPrincipalPolicy(statement("ReadKeyTags", []string{"kms:ListResourceTags"}, nil, keys))
	// CloudFormation creates a dedicated table with the provisioner's
	// credentials; DynamoDB then makes a grant on the tenant key for
	// itself. Only DynamoDB, only for an AWS resource, only tenant keys
	// (DescribeKey is in ManageTenantKeys).
	role.AddToPrincipalPolicy(statement("TenantTableKeyGrants", []string{"kms:CreateGrant"}, map[string]any{
		"StringEquals": map[string]any{"kms:ViaService": "dynamodb." + *stack.Region() + "." + *stack.UrlSuffix()},
		"Bool":         map[string]any{"kms:GrantIsForAWSResource": "true"},
		"StringLike":   map[string]any{"aws:ResourceTag/" + access.TenantTag: "?*"},
	}, keys))

	// TenantStack stacks (named provision.StackName: the dedicated table
	// prefix and the tenant id) and their tables.
	role.AddToPrincipalPolicy(statement("TenantStacks", tenantStackActions, nil,
		stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("cloudformation"), Resource: jsii.String("stack"),
			ResourceName: jsii.String(access.DedicatedTablePrefix + "*/*"),
		})))
	role.AddToPrincipalPolicy(statement("TenantTablesControlPlane", tenantTableControlActions, nil,
		stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("dynamodb"), Resource: jsii.String("table"),
			ResourceName: jsii.String(access.DedicatedTablePrefix + "*"),
		})))

	// Its delayed re-checks of premium stacks go to its own queue.
	data.ProvisioningQueue.GrantSendMessages(role)
}

// grantAPIKeys gives the provisioner's role what internal/control/apikey calls to
// give each tenant its own API key in its tier's usage plan: create, find
// (by name), and delete keys; read, add and remove the keys of the
// deployment's usage plans, and of no other plan. Keys are created with the
// tag tenantId, and with no other tag. It may not update a key (no PATCH):
// nothing disables or renames one.
func grantAPIKeys(stack awscdk.Stack, role awsiam.Role, plans map[string]awsapigateway.UsagePlan) {
	path := func(p string) *string {
		return jsii.String("arn:" + *stack.Partition() + ":apigateway:" + *stack.Region() + "::" + p)
	}
	role.AddToPrincipalPolicy(statement("TenantApiKeysCreateAndFind", []string{"apigateway:POST", "apigateway:GET"}, nil, path("/apikeys")))
	role.AddToPrincipalPolicy(statement("TenantApiKeysReadAndDelete", []string{"apigateway:GET", "apigateway:DELETE"}, nil, path("/apikeys/*")))
	var planKeys, planKey []*string
	for _, tier := range plan.Tiers {
		id := *plans[string(tier)].UsagePlanId()
		planKeys = append(planKeys, path("/usageplans/"+id+"/keys"))
		planKey = append(planKey, path("/usageplans/"+id+"/keys/*"))
	}
	role.AddToPrincipalPolicy(statement("UsagePlanKeysBind", []string{"apigateway:POST", "apigateway:GET"}, nil, planKeys...))
	role.AddToPrincipalPolicy(statement("UsagePlanKeysReadAndUnbind", []string{"apigateway:GET", "apigateway:DELETE"}, nil, planKey...))
	// Tags on create (CreateApiKey with Tags): tenantId only.
	role.AddToPrincipalPolicy(statement("TenantApiKeysTagOnCreate", []string{"apigateway:PUT"}, map[string]any{
		"StringLike":                map[string]any{"aws:RequestTag/" + access.TenantTag: "?*"},
		"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": []string{access.TenantTag}},
	}, path("/tags/*")))
}

// provisioningBatchSize and provisioningMaxConcurrency bound the
// provisioner: at most 5 instances, 5 messages each.
const (
	provisioningBatchSize      = 5
	provisioningMaxConcurrency = 5
)

// consumeProvisioningQueue makes fn consume the provisioning queue, with
// partial batch responses (a failed message is retried alone, then goes
// to the dead-letter queue) and bounded concurrency.
func consumeProvisioningQueue(fn awslambda.Function, data *DataStack) {
	fn.AddEventSource(awslambdaeventsources.NewSqsEventSource(data.ProvisioningQueue, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(provisioningBatchSize),
		MaxConcurrency:          jsii.Number(provisioningMaxConcurrency),
		ReportBatchItemFailures: jsii.Bool(true),
	}))
}

// sweepRequest is api.SweepRequest, the input that asks the tenants function
// to sweep the outbox (not imported: infra stays clear of the handlers'
// dependencies).
const sweepRequest = "sweep-outbox"

// outboxSweepRate is how often the tenants function republishes the events
// a crash left in the catalog's outbox.
const outboxSweepRate = 5 // minutes

// scheduleOutboxSweep invokes the tenants function on a schedule with the
// sweep request.
func scheduleOutboxSweep(stack awscdk.Stack, fn awslambda.Function) {
	awsevents.NewRule(stack, jsii.String("OutboxSweep"), &awsevents.RuleProps{
		Description: jsii.String("Republish the control-plane events left in the catalog outbox"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(outboxSweepRate))),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
			Event:         awsevents.RuleTargetInput_FromObject(map[string]any{"tessera": sweepRequest}),
			RetryAttempts: jsii.Number(2),
		})},
	})
}

// fromAccess turns a statement of internal/platform/access into a CDK statement.
func fromAccess(st access.Statement) awsiam.PolicyStatement {
	return awsiam.PolicyStatement_FromJson(access.Policy{Statement: []access.Statement{st}}.Map()["Statement"].([]any)[0])
}

// statement is an Allow statement.
func statement(sid string, actions []string, conditions map[string]any, resources ...*string) awsiam.PolicyStatement {
	props := &awsiam.PolicyStatementProps{
		Sid:       jsii.String(sid),
		Actions:   jsii.Strings(actions...),
		Resources: &resources,
	}
	if conditions != nil {
		props.Conditions = &conditions
	}
	return awsiam.NewPolicyStatement(props)
}
