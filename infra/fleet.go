package main

import (
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	sfn "github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctionstasks"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/settings"
)

// The fleet rollout (issue 15): a data migration or a TenantStack template
// version applied to every pending tenant, wave after wave, by the fleet
// function (functions/fleet, internal/control/fleet) under a Step Functions
// state machine:
//
//	Check input ──(invalid)──> Invalid input (Fail)
//	     │
//	   Plan  (fleet: {"action":"plan"} -> waves)
//	     │
//	   Waves  (Map over $.plan.waves, MaxConcurrency 1: one wave at a time) ──(any error)──> Rollout halted (Fail)
//	   │  Canary wave? ──(wave 0)──> Canary tolerates no failure ($.tolerance = 0) ─────────────┐
//	   │     └──(otherwise)──> Await approval (SNS, waitForTaskToken, 24 h) ──> Wave tolerance ─┤
//	   │                            └──(timeout)──> Approval timed out (Fail)                   │
//	   │  Apply wave  (Distributed Map over $.tenants, MaxConcurrencyPath,  <───────────────────┘
//	   │               ToleratedFailurePercentagePath $.tolerance)
//	   │     └── Apply to tenant (fleet: {"action":"apply"}; Lambda service errors and Fleet.Busy retried)
//	   │  Wave applied
//	     │
//	   Rolled out
//
// A wave whose failed tenants exceed its tolerance fails its Distributed Map
// (States.ExceedToleratedFailureThreshold), which fails the wave, the Waves
// map and the execution: later waves never start. So does an approval that
// times out or that an operator rejects (send-task-failure).

// functionFleet runs the fleet's plans and per-tenant applies.
const functionFleet route.Function = "fleet"

// fleetTimeout bounds one invocation: a plan, or one tenant's migration or
// stack update (which the function waits for). The most Lambda allows; a
// migration resumes from its checkpoint when run again.
const fleetTimeout = 15 * time.Minute

// fleetApprovalTimeout is how long a wave after the canaries waits for its
// approval before the rollout fails.
const fleetApprovalTimeout = 24 * time.Hour

// fleetExecutionTimeout bounds a whole rollout: every wave's approval and
// run.
const fleetExecutionTimeout = 30 * 24 * time.Hour

// fleetMaxConcurrency is the most tenants of one wave the state machine
// accepts to apply at once (the input's maxConcurrency); a Distributed Map
// with MaxConcurrency 0 would run every tenant of a wave at once.
const fleetMaxConcurrency = 100

// fleetLambdaErrors are the Lambda service errors the fleet's tasks retry:
// never an error of the function itself (a tenant's failed migration or
// stack update), which counts against the wave's tolerance instead.
var fleetLambdaErrors = []string{
	"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
	"Lambda.ClientExecutionTimeoutException", "Lambda.TooManyRequestsException",
}

// fleetBusyError is the error a tenant that cannot be worked on now
// (another runner holds it, or it is moving between tiers or being
// restored) fails its apply with: the state machine retries it a few times,
// for some minutes, before the tenant counts as failed. The fleet function
// must report it as this error type (the "errorType" of its Lambda error).
const fleetBusyError = "Fleet.Busy"

// fleetStackActions are the fleet function's CloudFormation actions on this
// stage's TenantStacks: update one to a new template version and follow it.
// Never create or delete one (the provisioner's).
var fleetStackActions = []string{"cloudformation:UpdateStack", "cloudformation:DescribeStacks"}

// fleetTableActions are the DynamoDB control-plane actions CloudFormation
// performs with the fleet function's credentials (it updates the stacks
// without a service role, as the provisioner creates them) to update a
// TenantStack's table, or to roll the update back. No CreateTable or
// DeleteTable: an update that would replace a tenant's table fails, and
// CloudFormation rolls it back, rather than dropping the tenant's items. No
// item action.
var fleetTableActions = []string{
	"dynamodb:DescribeTable", "dynamodb:UpdateTable",
	"dynamodb:DescribeContinuousBackups", "dynamodb:UpdateContinuousBackups",
	"dynamodb:DescribeTimeToLive", "dynamodb:UpdateTimeToLive",
	"dynamodb:TagResource", "dynamodb:UntagResource", "dynamodb:ListTagsOfResource",
}

// fleetSpec is the fleet function: it plans rollouts (the catalog's tenant
// list and records), migrates one tenant's items in that tenant's
// TenantDataAccessRole session, and updates one tenant's stack.
var fleetSpec = functionSpec{
	Name:        functionFleet,
	Description: "Tessera fleet runner: data migrations and TenantStack template versions, planned in waves and applied tenant by tenant",
	// More memory is more CPU: a migration rewrites (and re-seals) items.
	MemoryMB: 512,
	Timeout:  fleetTimeout,
	Env: []string{
		settings.EnvStage, settings.EnvPooledTable, settings.EnvCatalogTable, settings.EnvDataAccessRoleARN,
		settings.EnvCursorSecretARN, // its store follows list cursors
	},
	// Tenant items only in the tenant's TenantDataAccessRole session.
	TenantData: true,
	// Lists the tenants (the list index) and records on each tenant what
	// it has applied.
	Catalog: catalogReadWriteList,
	Fleet:   true,
}

// grantFleet gives the fleet function's role its control-plane permissions
// in cfg's stage: update and describe this stage's TenantStacks, and the
// table actions CloudFormation takes with its credentials to update them.
// Every resource carries the stage's dedicated-table prefix.
func grantFleet(stack awscdk.Stack, cfg config, role awsiam.Role) {
	arn := func(service, resource string) *string {
		return jsii.String("arn:" + *stack.Partition() + ":" + service + ":" + *stack.Region() + ":" + *stack.Account() + ":" + resource)
	}
	prefix := access.DedicatedTablePrefix(cfg.Stage)
	role.AddToPrincipalPolicy(statement("FleetTenantStacks", fleetStackActions, nil, arn("cloudformation", "stack/"+prefix+"*/*")))
	role.AddToPrincipalPolicy(statement("FleetTenantTablesControlPlane", fleetTableActions, nil, arn("dynamodb", "table/"+prefix+"*")))
	// The stacks' alarms (template version 2), as the provisioner has.
	role.AddToPrincipalPolicy(statement("FleetTenantStackAlarms", access.TenantAlarmActions, nil, arn("cloudwatch", "alarm:"+prefix+"*")))
	role.AddToPrincipalPolicy(statement("FleetTenantStackAlarmReads", access.TenantAlarmReads, nil, jsii.String("*")))
}

// Fleet is the fleet rollout: its state machine and the topic its
// approvals are asked on.
type Fleet struct {
	StateMachine  sfn.StateMachine
	ApprovalTopic awssns.Topic
	Logs          awslogs.LogGroup
}

// fleetName names the state machine, per stage (and cell), so that the CLI
// finds it: tessera-<stage>[-<cell>]-fleet.
func fleetName(cfg config) string {
	name := "tessera-" + cfg.Stage
	if cfg.Cell != nil {
		name += "-" + string(cfg.Cell.ID)
	}
	return name + "-fleet"
}

// newFleet defines the fleet rollout state machine (see the top of this
// file) around fn, the fleet function. Its input is
// {"target","maxConcurrency","toleratedFailurePercentage","actor"}.
func newFleet(stack awscdk.Stack, cfg config, fn awslambda.Function) *Fleet {
	scope := constructs.NewConstruct(stack, jsii.String("Fleet"))
	f := &Fleet{}

	// Approvals carry the task token; TLS only, encrypted with the
	// account's SNS key (whose key policy lets the account's principals use
	// it through SNS, so no key grant).
	f.ApprovalTopic = awssns.NewTopic(scope, jsii.String("ApprovalTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("Tessera " + cfg.Stage + " fleet approvals"),
		EnforceSSL:  jsii.Bool(true),
		MasterKey:   awskms.Alias_FromAliasName(scope, jsii.String("SnsKey"), jsii.String("alias/aws/sns")),
	})

	invoke := func(id string, payload map[string]any, selector map[string]any, resultPath *string, retries ...*sfn.RetryProps) awsstepfunctionstasks.LambdaInvoke {
		task := awsstepfunctionstasks.NewLambdaInvoke(scope, jsii.String(id), &awsstepfunctionstasks.LambdaInvokeProps{
			LambdaFunction: fn,
			Payload:        sfn.TaskInput_FromObject(&payload),
			ResultSelector: &selector,
			ResultPath:     resultPath,
			// Retried below, with the throttling error too.
			RetryOnServiceExceptions: jsii.Bool(false),
		})
		task.AddRetry(&sfn.RetryProps{
			Errors:         jsii.Strings(fleetLambdaErrors...),
			Interval:       awscdk.Duration_Seconds(jsii.Number(2)),
			MaxAttempts:    jsii.Number(6),
			BackoffRate:    jsii.Number(2),
			JitterStrategy: sfn.JitterType_FULL,
		})
		for _, r := range retries {
			task.AddRetry(r)
		}
		return task
	}

	invalid := sfn.NewFail(scope, jsii.String("Invalid input"), &sfn.FailProps{
		Error: jsii.String("Fleet.InvalidInput"),
		Cause: jsii.String(`want {"target": string, "actor": string, "maxConcurrency": 1 to ` + strconv.Itoa(fleetMaxConcurrency) +
			`, "toleratedFailurePercentage": 0 to 100}`),
	})
	number := func(path string, lo, hi float64) sfn.Condition {
		return sfn.Condition_And(sfn.Condition_IsPresent(jsii.String(path)), sfn.Condition_IsNumeric(jsii.String(path)),
			sfn.Condition_NumberGreaterThanEquals(jsii.String(path), jsii.Number(lo)),
			sfn.Condition_NumberLessThanEquals(jsii.String(path), jsii.Number(hi)))
	}
	str := func(path string) sfn.Condition {
		return sfn.Condition_And(sfn.Condition_IsPresent(jsii.String(path)), sfn.Condition_IsString(jsii.String(path)))
	}
	valid := sfn.Condition_And(str("$.target"), str("$.actor"),
		number("$.maxConcurrency", 1, fleetMaxConcurrency), number("$.toleratedFailurePercentage", 0, 100))

	plan := invoke("Plan",
		map[string]any{"action": "plan", "target": sfn.JsonPath_StringAt(jsii.String("$.target"))},
		map[string]any{"waves": sfn.JsonPath_ListAt(jsii.String("$.Payload.waves"))},
		jsii.String("$.plan"))

	// One wave: {wave, tenants, target, actor, maxConcurrency,
	// toleratedFailurePercentage}.
	apply := invoke("Apply to tenant",
		map[string]any{
			"action":   "apply",
			"target":   sfn.JsonPath_StringAt(jsii.String("$.target")),
			"tenantId": sfn.JsonPath_StringAt(jsii.String("$.tenantId")),
			"actor":    sfn.JsonPath_StringAt(jsii.String("$.actor")),
			"wave":     sfn.JsonPath_NumberAt(jsii.String("$.wave")),
		},
		// Small child outputs: the Distributed Map gathers one per tenant.
		map[string]any{"outcome": sfn.JsonPath_StringAt(jsii.String("$.Payload.outcome"))},
		nil,
		&sfn.RetryProps{
			Errors:      jsii.Strings(fleetBusyError),
			Interval:    awscdk.Duration_Seconds(jsii.Number(30)),
			MaxAttempts: jsii.Number(5),
			BackoffRate: jsii.Number(2),
		})
	applyWave := sfn.NewDistributedMap(scope, jsii.String("Apply wave"), &sfn.DistributedMapProps{
		Comment:   jsii.String("The wave's tenants, maxConcurrency at a time; fails when more than $.tolerance percent of them fail"),
		ItemsPath: sfn.JsonPath_StringAt(jsii.String("$.tenants")),
		ItemSelector: &map[string]any{
			"tenantId": sfn.JsonPath_StringAt(jsii.String("$$.Map.Item.Value")),
			"target":   sfn.JsonPath_StringAt(jsii.String("$.target")),
			"actor":    sfn.JsonPath_StringAt(jsii.String("$.actor")),
			"wave":     sfn.JsonPath_NumberAt(jsii.String("$.wave")),
		},
		MaxConcurrencyPath:             jsii.String("$.maxConcurrency"),
		ToleratedFailurePercentagePath: jsii.String("$.tolerance"),
		Label:                          jsii.String("FleetWave"),
		ResultPath:                     sfn.JsonPath_DISCARD(),
	})
	applyWave.ItemProcessor(apply, &sfn.ProcessorConfig{
		Mode:          sfn.ProcessorMode_DISTRIBUTED,
		ExecutionType: sfn.ProcessorType_STANDARD, // a stack update outlasts an Express workflow
	})
	waveApplied := sfn.NewPass(scope, jsii.String("Wave applied"), &sfn.PassProps{
		Parameters: &map[string]any{
			"wave":    sfn.JsonPath_NumberAt(jsii.String("$.wave")),
			"tenants": sfn.JsonPath_ArrayLength(sfn.JsonPath_ListAt(jsii.String("$.tenants"))),
		},
	})
	applyWave.Next(waveApplied)

	canary := sfn.NewPass(scope, jsii.String("Canary tolerates no failure"), &sfn.PassProps{
		Result:     sfn.Result_FromNumber(jsii.Number(0)),
		ResultPath: jsii.String("$.tolerance"),
	})
	canary.Next(applyWave)
	tolerance := sfn.NewPass(scope, jsii.String("Wave tolerance"), &sfn.PassProps{
		InputPath:  jsii.String("$.toleratedFailurePercentage"),
		ResultPath: jsii.String("$.tolerance"),
	})
	tolerance.Next(applyWave)

	approval := awsstepfunctionstasks.NewSnsPublish(scope, jsii.String("Await approval"), &awsstepfunctionstasks.SnsPublishProps{
		Topic:              f.ApprovalTopic,
		IntegrationPattern: sfn.IntegrationPattern_WAIT_FOR_TASK_TOKEN,
		Subject:            jsii.String("Tessera " + cfg.Stage + " fleet rollout: a wave awaits approval"),
		Message: sfn.TaskInput_FromObject(&map[string]any{
			"taskToken":                  sfn.JsonPath_TaskToken(),
			"target":                     sfn.JsonPath_StringAt(jsii.String("$.target")),
			"wave":                       sfn.JsonPath_NumberAt(jsii.String("$.wave")),
			"tenants":                    sfn.JsonPath_ArrayLength(sfn.JsonPath_ListAt(jsii.String("$.tenants"))),
			"maxConcurrency":             sfn.JsonPath_NumberAt(jsii.String("$.maxConcurrency")),
			"toleratedFailurePercentage": sfn.JsonPath_NumberAt(jsii.String("$.toleratedFailurePercentage")),
			"execution":                  sfn.JsonPath_ExecutionId(),
			"approve":                    "aws stepfunctions send-task-success --task-token <taskToken> --task-output '{}'",
			"reject":                     "aws stepfunctions send-task-failure --task-token <taskToken> --error Fleet.Rejected",
		}),
		TaskTimeout: sfn.Timeout_Duration(awscdk.Duration_Seconds(jsii.Number(fleetApprovalTimeout.Seconds()))),
		ResultPath:  sfn.JsonPath_DISCARD(),
	})
	approval.AddCatch(sfn.NewFail(scope, jsii.String("Approval timed out"), &sfn.FailProps{
		Error: jsii.String("Fleet.ApprovalTimeout"),
		Cause: jsii.String("no approval within " + fleetApprovalTimeout.String()),
	}), &sfn.CatchProps{Errors: jsii.Strings("States.Timeout")})
	approval.Next(tolerance)

	wave := sfn.NewChoice(scope, jsii.String("Canary wave?"), nil).
		When(sfn.Condition_NumberEquals(jsii.String("$.wave"), jsii.Number(0)), canary, nil).
		Otherwise(approval)

	waves := sfn.NewMap(scope, jsii.String("Waves"), &sfn.MapProps{
		Comment:        jsii.String("The plan's waves in order, one at a time"),
		ItemsPath:      sfn.JsonPath_StringAt(jsii.String("$.plan.waves")),
		MaxConcurrency: jsii.Number(1),
		ItemSelector: &map[string]any{
			"wave":                       sfn.JsonPath_NumberAt(jsii.String("$$.Map.Item.Value.wave")),
			"tenants":                    sfn.JsonPath_ListAt(jsii.String("$$.Map.Item.Value.tenants")),
			"target":                     sfn.JsonPath_StringAt(jsii.String("$.target")),
			"actor":                      sfn.JsonPath_StringAt(jsii.String("$.actor")),
			"maxConcurrency":             sfn.JsonPath_NumberAt(jsii.String("$.maxConcurrency")),
			"toleratedFailurePercentage": sfn.JsonPath_NumberAt(jsii.String("$.toleratedFailurePercentage")),
		},
		ResultPath: jsii.String("$.waves"),
	})
	waves.ItemProcessor(wave, &sfn.ProcessorConfig{Mode: sfn.ProcessorMode_INLINE})
	waves.AddCatch(sfn.NewFail(scope, jsii.String("Rollout halted"), &sfn.FailProps{
		ErrorPath: jsii.String("$.halt.Error"),
		CausePath: jsii.String("$.halt.Cause"),
	}), &sfn.CatchProps{Errors: jsii.Strings("States.ALL"), ResultPath: jsii.String("$.halt")})

	done := sfn.NewPass(scope, jsii.String("Rolled out"), &sfn.PassProps{
		Parameters: &map[string]any{
			"target": sfn.JsonPath_StringAt(jsii.String("$.target")),
			"waves":  sfn.JsonPath_ListAt(jsii.String("$.waves")),
		},
	})

	definition := sfn.NewChoice(scope, jsii.String("Check input"), nil).
		When(valid, plan.Next(waves).Next(done), nil).
		Otherwise(invalid)

	f.Logs = newLogGroup(scope, "StateMachineLogs", cfg)
	f.StateMachine = sfn.NewStateMachine(scope, jsii.String("StateMachine"), &sfn.StateMachineProps{
		StateMachineName: jsii.String(fleetName(cfg)),
		Comment:          jsii.String("Tessera fleet rollout: a migration or TenantStack version, wave by wave, with approval between waves"),
		DefinitionBody:   sfn.DefinitionBody_FromChainable(definition),
		StateMachineType: sfn.StateMachineType_STANDARD,
		Timeout:          awscdk.Duration_Seconds(jsii.Number(fleetExecutionTimeout.Seconds())),
		// Execution data holds approvals' task tokens: not logged.
		Logs: &sfn.LogOptions{
			Destination:          f.Logs,
			Level:                sfn.LogLevel_ALL,
			IncludeExecutionData: jsii.Bool(false),
		},
	})
	return f
}
