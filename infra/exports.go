package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/export"
	"github.com/tessera-saas/tessera/internal/platform/plan"
)

// exportRetentionDays is how long an export object stays in the bucket.
const exportRetentionDays = 7

// exportsBatchSize: one message is one export; a batch of one keeps an
// export's failure from delaying another's retry.
const exportsBatchSize = 1

// exportQueues are a tier's export queue and its dead-letter queue.
type exportQueues struct {
	Queue, DLQ awssqs.Queue
}

// newExportBucket defines the bucket tenant exports are written to, each
// under its tenant's prefix by that tenant's scoped session
// (access.Resources.ExportBucketARN). Objects are SSE-KMS with the tenant's
// own key (the worker asks for it on every upload); the bucket's default
// encryption (S3-managed keys) would only cover what arrives without, and
// the bucket policy refuses that: every PutObject must ask for SSE-KMS with
// a key ARN of this account and Region (access.ExportBucketPolicy), and KMS
// lets a tenant session use only its own tenant's key. No versioning: an
// expired or overwritten export is gone, and so is every copy. Retained in
// prod, like the tables; never emptied by CloudFormation.
func newExportBucket(stack awscdk.Stack, cfg config) awss3.Bucket {
	return newTenantObjectBucket(stack, cfg, tenantBucket{ID: "ExportBucket", Rules: []*awss3.LifecycleRule{{
		Id:                                  jsii.String("ExpireExports"),
		Expiration:                          awscdk.Duration_Days(jsii.Number(exportRetentionDays)),
		AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
	}}})
}

// tenantBucket describes a bucket of tenant objects (newTenantObjectBucket).
type tenantBucket struct {
	// ID is the bucket's construct id.
	ID string
	// Name is the bucket's name; nil leaves it to CloudFormation.
	Name *string
	// Versioned keeps overwritten and deleted objects' versions, until a
	// lifecycle rule removes them.
	Versioned bool
	// Rules are its lifecycle rules.
	Rules []*awss3.LifecycleRule
}

// newTenantObjectBucket defines a bucket of objects that tenant sessions
// write under their own prefixes (exports, change logs and snapshots, and
// their replicas): no public access, TLS only, objects owned by the bucket,
// and a bucket policy that refuses any PutObject without SSE-KMS under a
// key ARN of this account and Region (access.ExportBucketPolicy), so that
// every object is under its tenant's key. Retained in prod; never emptied
// by CloudFormation.
func newTenantObjectBucket(stack awscdk.Stack, cfg config, b tenantBucket) awss3.Bucket {
	removal := awscdk.RemovalPolicy_DESTROY
	if cfg.Prod() {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	bucket := awss3.NewBucket(stack, jsii.String(b.ID), &awss3.BucketProps{
		BucketName:        b.Name,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		Versioned:         jsii.Bool(b.Versioned),
		LifecycleRules:    &b.Rules,
		AutoDeleteObjects: jsii.Bool(false),
		RemovalPolicy:     removal,
	})
	for _, st := range access.ExportBucketPolicy(*bucket.BucketArn(), *stack.Partition(), *stack.Region(), *stack.Account()).Statement {
		bucket.AddToResourcePolicy(fromAccess(st))
	}
	return bucket
}

// newExportQueues defines one export queue per tier, so that the tiers'
// exports never wait behind each other and each tier's concurrency is its
// own (plan.Limits.ExportConcurrency). Each has a dead-letter queue that
// receives a message after export.MaxAttempts+1 receives (the worker marks
// the export FAILED on its last attempt), and a visibility timeout of
// visibilityFactor times the worker's timeout.
func newExportQueues(stack awscdk.Stack) map[catalog.Tier]exportQueues {
	out := map[catalog.Tier]exportQueues{}
	for _, tier := range plan.Tiers {
		id := "Export" + title(string(tier))
		dlq := awssqs.NewQueue(stack, jsii.String(id+"DLQ"), &awssqs.QueueProps{
			Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
			EnforceSSL:      jsii.Bool(true),
			RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		})
		q := awssqs.NewQueue(stack, jsii.String(id+"Queue"), &awssqs.QueueProps{
			Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
			EnforceSSL:        jsii.Bool(true),
			VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(visibilityFactor * exportsTimeout.Seconds())),
			DeadLetterQueue: &awssqs.DeadLetterQueue{
				Queue:           dlq,
				MaxReceiveCount: jsii.Number(export.MaxAttempts + 1),
			},
		})
		out[tier] = exportQueues{Queue: q, DLQ: dlq}
	}
	return out
}

// consumeExportQueues makes fn consume every tier's export queue: one
// message per invocation, partial batch responses, and at most the tier's
// ExportConcurrency invocations at once.
func consumeExportQueues(fn awslambda.Function, data *DataStack) {
	for _, tier := range plan.Tiers {
		l, _ := plan.For(tier)
		fn.AddEventSource(awslambdaeventsources.NewSqsEventSource(data.ExportQueues[tier].Queue, &awslambdaeventsources.SqsEventSourceProps{
			BatchSize:               jsii.Number(exportsBatchSize),
			MaxConcurrency:          jsii.Number(l.ExportConcurrency),
			ReportBatchItemFailures: jsii.Bool(true),
		}))
	}
}

// grantExportRequests lets role send to the tier export queues (and to no
// other queue).
func grantExportRequests(data *DataStack, role awsiam.Role) {
	for _, tier := range plan.Tiers {
		data.ExportQueues[tier].Queue.GrantSendMessages(role)
	}
}
