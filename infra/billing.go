package main

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// Usage billing (internal/control/billing): the billing function runs every
// hour; it samples each tenant's stored items once a UTC day (counted in the
// tenant's TenantDataAccessRole session) and reports the usage ledger's
// ended hours to Stripe as meter events, marking each hour in the ledger.

// functionBilling is the billing function.
const functionBilling route.Function = "billing"

// billingRate is how often the schedule runs the billing function.
const billingRate = time.Hour

// billingLedgerActions are what the billing function does with the usage
// ledger's items (store.UsagePrefix): read the hourly totals, samples and
// marks (Query), write samples and marks (PutItem, the marks conditionally).
// Never an update or delete: a mark, once written, stays.
var billingLedgerActions = []string{"dynamodb:PutItem", "dynamodb:Query"}

// billingSpec is the billing function. It lists the tenants (the catalog's
// list index) and reads their records by key; it reads and writes the usage
// ledger only; it counts a tenant's items only in that tenant's session.
var billingSpec = functionSpec{
	Name:        functionBilling,
	Description: "Tessera billing: daily storage samples and hourly usage reports to Stripe (meter events), marked in the ledger",
	MemoryMB:    256,
	// A run reports up to three days of hours per tenant, one call each.
	Timeout: 10 * time.Minute,
	Env: []string{
		settings.EnvStage, settings.EnvPooledTable, settings.EnvCatalogTable, settings.EnvDataAccessRoleARN,
		settings.EnvCursorSecretARN, // it follows the tenant list's cursors
		settings.EnvStripeSecretARN, // the Stripe key, read at the first report
	},
	TenantData: true,
	Catalog:    catalogReadList,
	Billing:    true,
}

// billingSecret is the secret that holds the stage's Stripe secret API key:
// created with a generated placeholder, which the function refuses (not a
// Stripe key), until an operator puts the real key (README, "Billing").
// Defined once per stack.
func billingSecret(stack awscdk.Stack, cfg config) awssecretsmanager.Secret {
	if s, ok := stack.Node().TryFindChild(jsii.String("StripeApiKey")).(awssecretsmanager.Secret); ok {
		return s
	}
	removal := awscdk.RemovalPolicy_DESTROY
	if cfg.Prod() {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	return awssecretsmanager.NewSecret(stack, jsii.String("StripeApiKey"), &awssecretsmanager.SecretProps{
		Description:   jsii.String("Tessera " + cfg.Stage + ": the Stripe secret API key usage is reported with (put the real key)"),
		RemovalPolicy: removal,
	})
}

// grantBilling gives the billing function's role the usage ledger
// (billingLedgerActions on USAGE# items only) and the Stripe key secret
// (GetSecretValue on it alone); grantFunction gives the rest (tenant
// records, the list index, the data-access role, the cursor key).
func grantBilling(stack awscdk.Stack, cfg config, data *DataStack, role awsiam.Role) {
	role.AddToPrincipalPolicy(fromAccess(access.PrefixedItemsStatement(
		"BillingLedger", *data.CatalogTable.TableArn(), store.UsagePrefix, billingLedgerActions...)))
	role.AddToPrincipalPolicy(statement("StripeKeyRead", []string{"secretsmanager:GetSecretValue"}, nil, billingSecret(stack, cfg).SecretArn()))
}

// scheduleBilling runs the billing function every billingRate. A run that
// fails is caught up by the next ones (billing.ReportWindow).
func scheduleBilling(stack awscdk.Stack, fn awslambda.Function) {
	awsevents.NewRule(stack, jsii.String("BillingSchedule"), &awsevents.RuleProps{
		Description: jsii.String("Sample storage and report usage to Stripe (internal/control/billing)"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(billingRate.Minutes()))),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
			RetryAttempts: jsii.Number(2),
		})},
	})
}
