package main

import (
	"slices"

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
	"github.com/tessera-saas/tessera/internal/platform/settings"
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

// flagReadActions are what features.Definitions calls through
// store.Catalog.ListFlags: one Query of the flag partition per catalog TTL.
var flagReadActions = []string{"dynamodb:Query"}

// usageLedgerActions are what store.Ledger.Record calls: a conditional
// PutItem per tenant and hour. Reading the ledger (Totals, a Query) is the
// operator's usage report, not a function's.
var usageLedgerActions = []string{"dynamodb:PutItem"}

// grantFunction gives a function role what its spec says, and nothing of
// tenant data: a TenantData function reaches tenant items only through
// TenantDataAccessRole sessions.
func grantFunction(stack awscdk.Stack, cfg config, data *DataStack, dataRole awsiam.Role, spec functionSpec, role awsiam.Role) {
	if spec.TenantData {
		// Tenant sessions only: assume the data-access role with the
		// tenantId session tag.
		dataRole.Grant(role, jsii.String("sts:AssumeRole"), jsii.String("sts:TagSession"))
	}
	// Catalog items, in hand-written statements: Table.Grant* would add the
	// catalog's index (every index) and more actions than needed.
	switch spec.Catalog {
	case catalogRead, catalogReadList:
		// Tenant records only (store.CatalogTenantPrefix): not the outbox,
		// idempotency records or the usage ledger of the same table.
		role.AddToPrincipalPolicy(fromAccess(access.PrefixedItemsStatement(
			"CatalogRead", *data.CatalogTable.TableArn(), store.CatalogTenantPrefix, catalogReadActions...)))
	case catalogReadWrite, catalogReadWriteList:
		role.AddToPrincipalPolicy(statement("CatalogReadWrite", catalogReadWriteActions, nil, data.CatalogTable.TableArn()))
	}
	if spec.Catalog == catalogReadWriteList || spec.Catalog == catalogReadList {
		role.AddToPrincipalPolicy(statement("CatalogListIndex", []string{"dynamodb:Query"}, nil,
			jsii.String(*data.CatalogTable.TableArn()+"/index/"+store.CatalogIndex)))
	}
	if spec.ReadsFlags {
		// The flag definitions' partition only, with one Query.
		role.AddToPrincipalPolicy(fromAccess(access.PartitionStatement(
			"FlagDefinitionsRead", *data.CatalogTable.TableArn(), store.FlagsPartition, flagReadActions...)))
	}
	if spec.UsageLedger {
		// Usage ledger items only: every leading key starts with
		// store.UsagePrefix, which no tenant record's key does.
		role.AddToPrincipalPolicy(fromAccess(access.PrefixedItemsStatement(
			"UsageLedgerWrite", *data.CatalogTable.TableArn(), store.UsagePrefix, usageLedgerActions...)))
	}
	if writesCatalog(spec) {
		// Audit entries are immutable: whatever else the role may do with
		// the catalog, no update or delete of an AUDIT# item.
		for _, st := range access.AuditImmutableStatements(*data.CatalogTable.TableArn()) {
			role.AddToPrincipalPolicy(fromAccess(st))
		}
	}
	if spec.RequestsExports {
		grantExportRequests(data, role)
	}
	if slices.Contains(spec.Env, settings.EnvCursorSecretARN) {
		// The stage's list cursor key, read once per process.
		role.AddToPrincipalPolicy(statement("CursorKeyRead", []string{"secretsmanager:GetSecretValue"}, nil, data.CursorSecret.SecretArn()))
	}
	if spec.PutEvents {
		data.Bus.GrantPutEventsTo(role, nil)
	}
	switch {
	case spec.managesUsers() && cfg.Cell != nil:
		// The global pool is in the router account: its cell's users role
		// there has the Cognito actions (RouterStack), this role may only
		// assume it.
		role.AddToPrincipalPolicy(statement("AssumeUsersRole", []string{"sts:AssumeRole"}, nil,
			jsii.String(cfg.Cell.UsersRoleARN(*stack.Partition(), cfg.Stage))))
	case spec.managesUsers():
		data.UserPool.Grant(role, *jsii.Strings(spec.UserPoolActions...)...)
	}
}

// writesCatalog reports whether a function may write catalog items, and
// so gets the audit trail's denials (access.AuditImmutableStatements).
func writesCatalog(spec functionSpec) bool {
	return spec.Catalog == catalogReadWrite || spec.Catalog == catalogReadWriteList || spec.UsageLedger
}

// grantProvisioner gives the provisioner's role its control-plane
// permissions in cfg's stage: access.ProvisionerPolicy (tenant keys through
// the KMS API, TenantStack stacks, and the tables CloudFormation creates for
// them with the provisioner's credentials), and its own queue.
func grantProvisioner(stack awscdk.Stack, cfg config, data *DataStack, role awsiam.Role) {
	for _, st := range provisionerPolicy(stack, cfg).Statement {
		role.AddToPrincipalPolicy(fromAccess(st))
	}
	// Its delayed re-checks of premium stacks go to its own queue.
	data.ProvisioningQueue.GrantSendMessages(role)
}

// provisionerPolicy is access.ProvisionerPolicy with the stack's tokens.
func provisionerPolicy(stack awscdk.Stack, cfg config) access.Policy {
	return access.ProvisionerPolicy(access.ProvisionerResources{
		Stage: cfg.Stage, Partition: *stack.Partition(), Region: *stack.Region(),
		Account: *stack.Account(), URLSuffix: *stack.UrlSuffix(),
	})
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
