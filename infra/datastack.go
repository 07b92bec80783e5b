package main

import (
	"maps"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// DataStackProps configures the data and control plane stack.
type DataStackProps struct {
	awscdk.StackProps
	Config config
}

// DataStack holds what the other stacks use of the data and control plane.
type DataStack struct {
	Stack             awscdk.Stack
	PooledTable       awsdynamodb.Table
	CatalogTable      awsdynamodb.Table
	Bus               awsevents.EventBus
	ProvisioningQueue awssqs.Queue
	ProvisioningDLQ   awssqs.Queue
	// UserPool and AppClient are the stage's pool: this stack's own, or
	// in a multi-cell stage the global pool of the router account,
	// imported.
	UserPool  awscognito.IUserPool
	AppClient awscognito.IUserPoolClient
	// ExportBucket holds tenant exports; ExportQueues are each tier's
	// export queue and its dead-letter queue.
	ExportBucket awss3.Bucket
	ExportQueues map[catalog.Tier]exportQueues
	// CursorSecret holds the stage's list cursor key, generated at deploy
	// time (settings.EnvCursorSecretARN).
	CursorSecret awssecretsmanager.Secret
	// BackupBucket holds each tenant's change log and snapshots
	// (settings.EnvBackupBucket); ChangeFeedDLQ keeps the change feed's
	// failed batches (their stream positions), for the pooled table's
	// mapping and for every TenantStack's.
	BackupBucket  awss3.Bucket
	ChangeFeedDLQ awssqs.Queue
	// BackupReplicationRole replicates the backup bucket to the DR
	// Region (nil without DR); BackupSchedule asks the provisioner for
	// the backups that are due.
	BackupReplicationRole awsiam.Role
	BackupSchedule        awsevents.Rule
}

// provisioningEvents are the control-plane events the provisioner handles,
// which the bus delivers to the provisioning queue.
var provisioningEvents = bus.ProvisioningEvents

// NewDataStack defines the stateful resources: the pooled and catalog
// tables, the event bus with the provisioning queue, the user pool, the
// export bucket with the tier export queues, and the backup bucket (with
// its replication to the DR Region, and the backup schedule) and the change
// feed's dead-letter queue. The pooled table has a stream (new and old
// images), which the change feed consumes.
func NewDataStack(scope constructs.Construct, id string, props *DataStackProps) *DataStack {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	cfg := props.Config
	d := &DataStack{Stack: stack}

	// Its stream feeds each tenant's change log (changeFeedStream).
	d.PooledTable = newTable(stack, "PooledTable", cfg, changeFeedStream, store.InviteExpiryAttribute)
	// Idempotency keys of tenant creates expire through the catalog's TTL.
	// No stream: the catalog holds no tenant data to back up.
	d.CatalogTable = newTable(stack, "CatalogTable", cfg, noStream, store.CatalogTTLAttribute)
	// The operator API lists tenants through this index (only profile items
	// carry its keys).
	d.CatalogTable.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:      jsii.String(store.CatalogIndex),
		PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(store.CatalogIndexPK), Type: awsdynamodb.AttributeType_STRING},
		SortKey:        &awsdynamodb.Attribute{Name: jsii.String(store.CatalogIndexSK), Type: awsdynamodb.AttributeType_STRING},
		ProjectionType: awsdynamodb.ProjectionType_ALL,
	})

	d.Bus = awsevents.NewEventBus(stack, jsii.String("Bus"), &awsevents.EventBusProps{
		EventBusName: jsii.String("tessera-" + cfg.Stage),
	})
	d.ProvisioningDLQ = awssqs.NewQueue(stack, jsii.String("ProvisioningDLQ"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	d.ProvisioningQueue = awssqs.NewQueue(stack, jsii.String("ProvisioningQueue"), &awssqs.QueueProps{
		Encryption: awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL: jsii.Bool(true),
		// Six times the provisioner's timeout, so that a message is not
		// redelivered while a slow batch still runs.
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(visibilityFactor * provisionerTimeout.Seconds())),
		// One delivery more than the provisioner's retry budget
		// (provision.MaxAttempts), so that a run that crashes on the last
		// attempt still gets a delivery that records the failure.
		DeadLetterQueue: &awssqs.DeadLetterQueue{
			Queue:           d.ProvisioningDLQ,
			MaxReceiveCount: jsii.Number(provisioningMaxReceiveCount),
		},
	})
	detailTypes := make([]string, len(provisioningEvents))
	for i, dt := range provisioningEvents {
		detailTypes[i] = string(dt)
	}
	awsevents.NewRule(stack, jsii.String("OnboardingRequested"), &awsevents.RuleProps{
		Description: jsii.String("Deliver tenant onboarding, tier-change and offboarding requests to the provisioning queue"),
		EventBus:    d.Bus,
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings(bus.Source),
			DetailType: jsii.Strings(detailTypes...),
		},
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSqsQueue(d.ProvisioningQueue, &awseventstargets.SqsQueueProps{
			// Events the rule cannot deliver go to the same DLQ.
			DeadLetterQueue: d.ProvisioningDLQ,
			RetryAttempts:   jsii.Number(20),
		})},
	})

	if cfg.Cell != nil {
		p := cfg.Cell.Pool
		d.UserPool = awscognito.UserPool_FromUserPoolArn(stack, jsii.String("UserPool"), jsii.String(p.ARN(*stack.Partition())))
		d.AppClient = awscognito.UserPoolClient_FromUserPoolClientId(stack, jsii.String("AppClient"), jsii.String(p.ClientID))
	} else {
		d.UserPool, d.AppClient = newUserPool(stack, cfg)
	}

	d.ExportBucket = newExportBucket(stack, cfg)
	d.ExportQueues = newExportQueues(stack)
	d.CursorSecret = newCursorSecret(stack, cfg)
	d.BackupBucket = newBackupBucket(stack, cfg)
	if cfg.DR != nil {
		d.BackupReplicationRole = replicateBackups(stack, cfg, d.BackupBucket)
	}
	d.BackupSchedule = scheduleBackups(stack, d)
	d.ChangeFeedDLQ = newChangeFeedDLQ(stack)

	outs := map[string]*string{
		"PooledTableName":      d.PooledTable.TableName(),
		"CatalogTableName":     d.CatalogTable.TableName(),
		"EventBusName":         d.Bus.EventBusName(),
		"ProvisioningQueueUrl": d.ProvisioningQueue.QueueUrl(),
		"ProvisioningDLQUrl":   d.ProvisioningDLQ.QueueUrl(),
		"UserPoolId":           d.UserPool.UserPoolId(),
		"AppClientId":          d.AppClient.UserPoolClientId(),
		"ExportBucketName":     d.ExportBucket.BucketName(),
		"BackupBucketName":     d.BackupBucket.BucketName(),
		"ChangeFeedDLQUrl":     d.ChangeFeedDLQ.QueueUrl(),
	}
	for tier, q := range d.ExportQueues {
		outs["ExportQueueUrl"+title(string(tier))] = q.Queue.QueueUrl()
		outs["ExportDLQUrl"+title(string(tier))] = q.DLQ.QueueUrl()
	}
	outputs(stack, outs)
	return d
}

// provisioningMaxReceiveCount is the provisioning queue's redrive count:
// provision.MaxAttempts (5) + 1, as internal/local/bootstrap sets it (a test
// there keeps the two in step; this module does not import the provisioner).
const provisioningMaxReceiveCount = 6

// cursorKeyLength is the length of the generated cursor key: 64 letters and
// digits, about 380 bits.
const cursorKeyLength = 64

// newCursorSecret defines the secret that holds the stage's list cursor key
// (HMAC key of internal/platform/store's cursors), generated by Secrets
// Manager, so that no two stages, and no deployment and the built-in
// default, share one. The functions that list read it once per process.
func newCursorSecret(stack awscdk.Stack, cfg config) awssecretsmanager.Secret {
	removal := awscdk.RemovalPolicy_DESTROY
	if cfg.Prod() {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	return awssecretsmanager.NewSecret(stack, jsii.String("CursorKey"), &awssecretsmanager.SecretProps{
		Description: jsii.String("Tessera " + cfg.Stage + ": the key that authenticates list cursors"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(cursorKeyLength),
			ExcludePunctuation: jsii.Bool(true),
		},
		RemovalPolicy: removal,
	})
}

// newTable defines a table with the key schema shared by the pooled, the
// catalog and every dedicated table: pk (S) and sk (S), on demand, with
// point-in-time recovery and encryption at rest under the AWS managed key.
// In prod it is protected from deletion and retained with the stack. A
// stream other than noStream turns on DynamoDB Streams with that view; a
// ttl names the table's TTL attribute.
func newTable(scope constructs.Construct, id string, cfg config, stream awsdynamodb.StreamViewType, ttl ...string) awsdynamodb.Table {
	removal := awscdk.RemovalPolicy_DESTROY
	if cfg.Prod() {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	var ttlAttr *string
	if len(ttl) > 0 {
		ttlAttr = jsii.String(ttl[0])
	}
	props := &awsdynamodb.TableProps{
		TimeToLiveAttribute: ttlAttr,
		PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:             &awsdynamodb.Attribute{Name: jsii.String("sk"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		Encryption:         awsdynamodb.TableEncryption_AWS_MANAGED,
		DeletionProtection: jsii.Bool(cfg.Prod()),
		RemovalPolicy:      removal,
	}
	if stream != noStream {
		props.Stream = stream
	}
	return awsdynamodb.NewTable(scope, jsii.String(id), props)
}

// noStream is newTable's "no DynamoDB stream".
const noStream awsdynamodb.StreamViewType = ""

// outputs adds one stack output per entry, in name order so that the
// template does not change from one synth to the next.
func outputs(stack awscdk.Stack, values map[string]*string) {
	for _, name := range slices.Sorted(maps.Keys(values)) {
		awscdk.NewCfnOutput(stack, jsii.String(name), &awscdk.CfnOutputProps{Value: values[name]})
	}
}
