package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/settings"
)

// AppStackProps configures the app plane stack.
type AppStackProps struct {
	awscdk.StackProps
	Config config
	Data   *DataStack
	// CodeDir holds <function>/bootstrap for every function (dist/).
	CodeDir string
}

// AppStack holds the app plane.
type AppStack struct {
	Stack          awscdk.Stack
	Functions      map[route.Function]awslambda.Function
	FunctionRoles  map[route.Function]awsiam.Role
	FunctionLogs   map[route.Function]awslogs.LogGroup
	DataAccessRole awsiam.Role
	API            awsapigateway.RestApi
	UsagePlans     map[string]awsapigateway.UsagePlan
	Dashboard      awscloudwatch.Dashboard
	// Fleet is the fleet rollout state machine (fleet.go).
	Fleet *Fleet
}

// NewAppStack defines the functions, each with its own least-privilege role,
// TenantDataAccessRole, the REST API in front of the functions, and the
// operations dashboard.
func NewAppStack(scope constructs.Construct, id string, props *AppStackProps) (*AppStack, error) {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	cfg, data := props.Config, props.Data
	a := &AppStack{
		Stack:         stack,
		Functions:     map[route.Function]awslambda.Function{},
		FunctionRoles: map[route.Function]awsiam.Role{},
		FunctionLogs:  map[route.Function]awslogs.LogGroup{},
	}

	// Function roles first: TenantDataAccessRole trusts them by ARN.
	var tenantDataRoles []awsiam.Role
	for _, spec := range functionSpecs {
		roleProps := &awsiam.RoleProps{
			AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
			Description: jsii.String("Execution role of the " + string(spec.Name) + " function (no tenant data access of its own)"),
		}
		if cfg.Cell != nil && spec.managesUsers() {
			// The users role in the router account trusts it by name.
			roleProps.RoleName = jsii.String(cellFunctionRoleName(cfg.Stage, cfg.Cell.ID, spec.Name))
		}
		role := awsiam.NewRole(stack, jsii.String(fnID(spec.Name)+"FunctionRole"), roleProps)
		a.FunctionRoles[spec.Name] = role
		if spec.TenantData {
			tenantDataRoles = append(tenantDataRoles, role)
		}
	}
	a.DataAccessRole = newDataAccessRole(stack, cfg, data, tenantDataRoles)

	// The API and its usage plans before the functions: the provisioner
	// binds tenants' API keys to the plans by id. Methods come after.
	api := newRestAPI(stack, cfg, data)
	a.API, a.UsagePlans = api.RestAPI, api.UsagePlans

	for _, spec := range creationOrder(functionSpecs) {
		role := a.FunctionRoles[spec.Name]
		env, err := functionEnv(stack, cfg, data, a.DataAccessRole, role, a.UsagePlans, a.Functions, spec)
		if err != nil {
			return nil, err
		}
		fn, logs, err := newFunction(stack, cfg, spec, role, props.CodeDir, env)
		if err != nil {
			return nil, err
		}
		a.Functions[spec.Name], a.FunctionLogs[spec.Name] = fn, logs
		grantFunction(stack, cfg, data, a.DataAccessRole, spec, role)
		if spec.Provisioner {
			grantProvisioner(stack, cfg, data, role)
			grantAPIKeys(stack, role, a.UsagePlans)
			if err := grantChangeFeedMappings(stack, role, a.Functions[functionChangeFeed]); err != nil {
				return nil, err
			}
			consumeProvisioningQueue(fn, data)
		}
		if spec.RunsExports {
			consumeExportQueues(fn, data)
		}
		if spec.ChangeFeed {
			consumeChangeFeed(fn, data)
			grantChangeFeedStreams(stack, cfg, role)
		}
		if spec.Fleet {
			grantFleet(stack, cfg, role)
			a.Fleet = newFleet(stack, cfg, fn)
		}
		if spec.Billing {
			grantBilling(stack, cfg, data, role)
			scheduleBilling(stack, fn)
		}
	}
	if fn, ok := a.Functions[route.FunctionTenants]; ok {
		scheduleOutboxSweep(stack, fn)
	}
	if err := addRoutes(stack, api, a.Functions); err != nil {
		return nil, err
	}
	a.Dashboard = newDashboard(stack, cfg, a.FunctionLogs[route.FunctionAPI])

	outs := map[string]*string{
		"DataAccessRoleArn": a.DataAccessRole.RoleArn(),
		"DashboardName":     a.Dashboard.DashboardName(),
	}
	for tier, up := range a.UsagePlans {
		outs["UsagePlanId"+title(tier)] = up.UsagePlanId()
	}
	if fn, ok := a.Functions[functionChangeFeed]; ok {
		// TenantStack's ChangeFeedFunctionArn.
		outs["ChangeFeedFunctionArn"] = fn.FunctionArn()
	}
	if a.Fleet != nil {
		// What `tessera fleet` starts, and where approvals are asked.
		outs["FleetStateMachineArn"] = a.Fleet.StateMachine.StateMachineArn()
		outs["FleetApprovalTopicArn"] = a.Fleet.ApprovalTopic.TopicArn()
	}
	outputs(stack, outs)
	return a, nil
}

// creationOrder is specs with the change feed's function first: the
// provisioner's settings (settings.EnvChangeFeedFunctionARN) and policy
// (grantChangeFeedMappings) name it.
func creationOrder(specs []functionSpec) []functionSpec {
	var first, rest []functionSpec
	for _, spec := range specs {
		if spec.ChangeFeed {
			first = append(first, spec)
		} else {
			rest = append(rest, spec)
		}
	}
	return append(first, rest...)
}

// newDataAccessRole defines TenantDataAccessRole: its permissions are
// access.DataAccessPolicy, and only the given function roles may assume it,
// only with a tenantId session tag (access.TrustPolicy). A chained role
// session lasts at most an hour, hence the maximum session duration.
func newDataAccessRole(stack awscdk.Stack, cfg config, data *DataStack, trusted []awsiam.Role) awsiam.Role {
	policy := access.DataAccessPolicy(access.Resources{
		Stage:           cfg.Stage,
		PooledTableARN:  *data.PooledTable.TableArn(),
		Partition:       *stack.Partition(),
		Region:          *stack.Region(),
		Account:         *stack.Account(),
		ExportBucketARN: *data.ExportBucket.BucketArn(),
		BackupBucketARN: *data.BackupBucket.BucketArn(),
		// PUT /v1/settings (the tenant's own record's settings attribute),
		// and each session's own audit trail (append, read).
		// A tenant's own billing partitions (its invoice's inputs).
		CatalogTableARN: *data.CatalogTable.TableArn(),
	})
	principals := make([]awsiam.IPrincipal, len(trusted))
	arns := make([]string, len(trusted))
	for i, r := range trusted {
		principals[i] = awsiam.NewArnPrincipal(r.RoleArn())
		arns[i] = *r.RoleArn()
	}
	role := awsiam.NewRole(stack, jsii.String(access.RoleName), &awsiam.RoleProps{
		RoleName:           jsii.String(access.RoleName + "-" + cfg.Stage),
		Description:        jsii.String("Tenant-scoped data access: assumed per tenant with the session tag " + access.TenantTag),
		AssumedBy:          awsiam.NewCompositePrincipal(principals...),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"TenantDataAccess": awsiam.PolicyDocument_FromJson(policy.Map()),
		},
	})
	// The trust policy is access.TrustPolicy verbatim (tag conditions
	// included), rather than what AssumedBy renders.
	role.Node().DefaultChild().(awsiam.CfnRole).
		AddPropertyOverride(jsii.String("AssumeRolePolicyDocument"), access.TrustPolicy(arns).Map())
	return role
}

// functionEnv is the configuration of one function (internal/platform/settings
// reads it): the settings its spec lists. fns are the functions defined so
// far (creationOrder).
func functionEnv(stack awscdk.Stack, cfg config, data *DataStack, dataRole, role awsiam.Role,
	plans map[string]awsapigateway.UsagePlan, fns map[route.Function]awslambda.Function, spec functionSpec) (map[string]*string, error) {
	all := map[string]*string{
		settings.EnvStage:             jsii.String(cfg.Stage),
		settings.EnvPooledTable:       data.PooledTable.TableName(),
		settings.EnvCatalogTable:      data.CatalogTable.TableName(),
		settings.EnvDataAccessRoleARN: dataRole.RoleArn(),
		settings.EnvEventBus:          data.Bus.EventBusName(),
		settings.EnvUserPoolID:        data.UserPool.UserPoolId(),
		settings.EnvAppClientID:       data.AppClient.UserPoolClientId(),
		settings.EnvProvisioningQueue: data.ProvisioningQueue.QueueUrl(),
		settings.EnvPartition:         stack.Partition(),
		settings.EnvAccountID:         stack.Account(),
		// The function's own role manages the tenant keys it creates.
		settings.EnvKeyAdminRoleARN: role.RoleArn(),
		settings.EnvExportBucket:    data.ExportBucket.BucketName(),
		settings.EnvBackupBucket:    data.BackupBucket.BucketName(),
		settings.EnvCursorSecretARN: data.CursorSecret.SecretArn(),
		// What the provisioner gives each TenantStack for its table's
		// mapping to the change feed.
		settings.EnvChangeFeedDLQARN: data.ChangeFeedDLQ.QueueArn(),
	}
	if feed, ok := fns[functionChangeFeed]; ok {
		all[settings.EnvChangeFeedFunctionARN] = feed.FunctionArn()
	}
	if spec.Billing {
		all[settings.EnvStripeSecretARN] = billingSecret(stack, cfg).SecretArn()
	}
	for _, tier := range plan.Tiers {
		all[settings.TierEnv(settings.EnvExportQueuePrefix, tier)] = data.ExportQueues[tier].Queue.QueueUrl()
		all[settings.TierEnv(settings.EnvUsagePlanPrefix, tier)] = plans[string(tier)].UsagePlanId()
	}
	names := spec.Env
	if cfg.Cell != nil {
		// A cell of a multi-cell stage: every function knows its cell, and
		// those that manage users do it through the router account's role.
		all[settings.EnvCell] = jsii.String(string(cfg.Cell.ID))
		all[settings.EnvUserPoolRoleARN] = jsii.String(cfg.Cell.UsersRoleARN(*stack.Partition(), cfg.Stage))
		names = append(slices.Clone(names), settings.EnvCell)
		if spec.managesUsers() {
			names = append(names, settings.EnvUserPoolRoleARN)
		}
	}
	env := map[string]*string{}
	for _, name := range names {
		v, ok := all[name]
		if !ok {
			return nil, fmt.Errorf("function %s: no value for the setting %s", spec.Name, name)
		}
		env[name] = v
	}
	return env, nil
}

// newFunction defines one Go function (provided.al2023, arm64) with its log
// group. Its code is codeDir/<name> (bootstrap binary).
func newFunction(stack awscdk.Stack, cfg config, spec functionSpec, role awsiam.Role, codeDir string, env map[string]*string) (awslambda.Function, awslogs.LogGroup, error) {
	name := string(spec.Name)
	dir := filepath.Join(codeDir, name)
	if _, err := os.Stat(filepath.Join(dir, "bootstrap")); err != nil {
		return nil, nil, fmt.Errorf("function %s: no bootstrap binary (build it with `make build`): %w", name, err)
	}
	logs := newLogGroup(stack, fnID(spec.Name)+"FunctionLogs", cfg)
	logs.GrantWrite(role)
	fn := awslambda.NewFunction(stack, jsii.String(fnID(spec.Name)+"Function"), &awslambda.FunctionProps{
		Description:  jsii.String(spec.Description),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(dir), nil),
		Role:         role,
		MemorySize:   jsii.Number(spec.MemoryMB),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(spec.Timeout.Seconds())),
		Environment:  &env,
		LogGroup:     logs,
	})
	return fn, logs, nil
}

// newLogGroup defines a log group with a retention fitting the stage.
func newLogGroup(scope constructs.Construct, id string, cfg config) awslogs.LogGroup {
	retention, removal := awslogs.RetentionDays_ONE_MONTH, awscdk.RemovalPolicy_DESTROY
	if cfg.Prod() {
		retention, removal = awslogs.RetentionDays_ONE_YEAR, awscdk.RemovalPolicy_RETAIN
	}
	return awslogs.NewLogGroup(scope, jsii.String(id), &awslogs.LogGroupProps{
		Retention:     retention,
		RemovalPolicy: removal,
	})
}

// fnID turns the function "api" into the construct id "Api".
func fnID(f route.Function) string { return title(string(f)) }

// title upper-cases the first letter of a lowercase ASCII name.
func title(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
