package main

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/platform/access"
)

// The tenant change feed (internal/control/changefeed): the pooled table's
// stream and every dedicated table's stream are consumed by the changefeed
// function, which appends each tenant's changes to its change log in the
// backup bucket. The pooled table's mapping is in the app stack; each
// dedicated table's is in its TenantStack (changeFeedMapping), with the
// same settings.

// changeFeedStream is the stream view of the tables the feed consumes: a
// change log with both images can be replayed forwards (restore) and read
// backwards (what a change overwrote).
const changeFeedStream = awsdynamodb.StreamViewType_NEW_AND_OLD_IMAGES

// changeFeedTimeout bounds one batch: at most changeFeedBatchSize records,
// one S3 object per tenant in it, a few tenants at once
// (changefeed.MaxParallel), each with a cached tenant session.
const changeFeedTimeout = time.Minute

// Event source mapping settings, the same for the pooled and the dedicated
// tables' streams.
const (
	// changeFeedBatchSize: records per invocation.
	changeFeedBatchSize = 100
	// changeFeedMaxRetries bounds the retries of a failing batch (after
	// bisection, of the half that fails), so that a record the function
	// cannot log does not stop its shard for the stream's whole retention
	// (24 hours): after that the batch goes to the dead-letter queue.
	changeFeedMaxRetries = 10
	// changeFeedMaxRecordAge: a record not logged this long after its write
	// is given up on and its batch goes to the dead-letter queue, which
	// leaves 18 of the stream's 24 hours of retention to replay it from
	// the positions the queue keeps.
	changeFeedMaxRecordAge = 6 * time.Hour
)

// changeFeedStartingPosition: a new mapping starts at the oldest record the
// stream holds, so that nothing written before it existed is skipped.
const changeFeedStartingPosition = awslambda.StartingPosition_TRIM_HORIZON

// changeFeedStreamActions are what Lambda calls, with the changefeed
// function's own role, to read a stream: the only stream (and item) reads
// any function role has. dynamodb:ListStreams, which has no resource, comes
// with the pooled table's mapping (Table.GrantStreamRead).
var changeFeedStreamActions = []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}

// changeFeedDLQRetention is how long the dead-letter queue keeps a failed
// batch's description (the stream, shard and sequence numbers, not the
// records: those stay in the stream for 24 hours).
const changeFeedDLQRetention = 14 // days

// newChangeFeedDLQ defines the change feed's on-failure destination: Lambda
// sends it the description of each batch it gave up on (after
// changeFeedMaxRetries or changeFeedMaxRecordAge), so that the batch can be
// replayed from the stream instead of being lost. One queue for every
// mapping, the pooled table's and the TenantStacks'.
func newChangeFeedDLQ(stack awscdk.Stack) awssqs.Queue {
	return awssqs.NewQueue(stack, jsii.String("ChangeFeedDLQ"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(changeFeedDLQRetention)),
	})
}

// consumeChangeFeed makes fn consume the pooled table's stream, with the
// change feed's mapping settings. Binding the source grants fn's role the
// stream reads (on this stream) and sending to the dead-letter queue;
// grantChangeFeedStreams adds the dedicated tables' streams.
func consumeChangeFeed(fn awslambda.Function, data *DataStack) {
	fn.AddEventSource(awslambdaeventsources.NewDynamoEventSource(data.PooledTable, &awslambdaeventsources.DynamoEventSourceProps{
		StartingPosition:        changeFeedStartingPosition,
		BatchSize:               jsii.Number(changeFeedBatchSize),
		BisectBatchOnError:      jsii.Bool(true),
		ReportBatchItemFailures: jsii.Bool(true),
		RetryAttempts:           jsii.Number(changeFeedMaxRetries),
		MaxRecordAge:            awscdk.Duration_Seconds(jsii.Number(changeFeedMaxRecordAge.Seconds())),
		OnFailure:               awslambdaeventsources.NewSqsDlq(data.ChangeFeedDLQ),
	}))
}

// dedicatedStreamsARN matches the streams of cfg's stage's dedicated tables
// (access.DedicatedTable), and of no other stage's.
func dedicatedStreamsARN(stack awscdk.Stack, cfg config) string {
	return "arn:" + *stack.Partition() + ":dynamodb:" + *stack.Region() + ":" + *stack.Account() +
		":table/" + access.DedicatedTablePrefix(cfg.Stage) + "*/stream/*"
}

// grantChangeFeedStreams lets the changefeed role read the streams of the
// stage's dedicated tables: the TenantStack mappings read them with it, and
// Lambda checks that it may when CloudFormation creates a mapping. Stream
// reads only, not the tables' items.
func grantChangeFeedStreams(stack awscdk.Stack, cfg config, role awsiam.Role) {
	role.AddToPrincipalPolicy(statement("DedicatedTableStreams", changeFeedStreamActions, nil,
		jsii.String(dedicatedStreamsARN(stack, cfg))))
}

// changeFeedMapping is a TenantStack's event source mapping from its table's
// stream to the changefeed function, with the settings of the pooled
// table's (consumeChangeFeed), written out for CloudFormation.
func changeFeedMapping(functionARN, streamARN, dlqARN *string) *awslambda.CfnEventSourceMappingProps {
	return &awslambda.CfnEventSourceMappingProps{
		FunctionName:               functionARN,
		EventSourceArn:             streamARN,
		StartingPosition:           jsii.String(string(changeFeedStartingPosition)),
		BatchSize:                  jsii.Number(changeFeedBatchSize),
		BisectBatchOnFunctionError: jsii.Bool(true),
		FunctionResponseTypes:      jsii.Strings("ReportBatchItemFailures"),
		MaximumRetryAttempts:       jsii.Number(changeFeedMaxRetries),
		MaximumRecordAgeInSeconds:  jsii.Number(changeFeedMaxRecordAge.Seconds()),
		DestinationConfig: &awslambda.CfnEventSourceMapping_DestinationConfigProperty{
			OnFailure: &awslambda.CfnEventSourceMapping_OnFailureProperty{Destination: dlqARN},
		},
	}
}
