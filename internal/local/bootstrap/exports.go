package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/cell"
	"github.com/tessera-saas/tessera/internal/platform/export"
	"github.com/tessera-saas/tessera/internal/platform/plan"
)

// Names and settings of the export path.
const (
	// ExportQueuePrefix + tier is a tier's export queue; + "-dlq" its
	// dead-letter queue.
	ExportQueuePrefix = "tessera-exports-"
	// ExportMaxReceiveCount leaves the worker its own retry budget
	// (export.MaxAttempts, after which it marks the export FAILED) and one
	// delivery more before the dead-letter queue.
	ExportMaxReceiveCount = export.MaxAttempts + 1
	// LocalExportVisibilityTimeout is longer than a local export of demo
	// data takes, so a message is not redelivered while its run goes on (in
	// AWS the CDK derives it from the function's timeout).
	LocalExportVisibilityTimeout = 30
	// abortIncompleteUploadsDays removes the parts of multipart uploads a
	// crashed run left.
	abortIncompleteUploadsDays = 1
)

// ExportQueueName is the export queue of tier t.
func ExportQueueName(t catalog.Tier) string { return ExportQueuePrefix + string(t) }

// ensureExports creates the export bucket (private, with a rule removing
// abandoned multipart uploads) and one export queue per tier with its
// dead-letter queue, and returns the queue URLs.
func ensureExports(ctx context.Context, objects *s3.Client, q *sqs.Client, bucket, region string, c cell.ID) (map[catalog.Tier]string, error) {
	if err := ensureBucket(ctx, objects, bucket, region, []s3types.LifecycleRule{{
		ID: aws.String("abort-incomplete-uploads"), Status: s3types.ExpirationStatusEnabled,
		Filter:                         &s3types.LifecycleRuleFilter{Prefix: aws.String("")},
		AbortIncompleteMultipartUpload: &s3types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(abortIncompleteUploadsDays)},
	}}); err != nil {
		return nil, err
	}
	urls := make(map[catalog.Tier]string, len(plan.Tiers))
	for _, t := range plan.Tiers {
		name := CellName(c, ExportQueueName(t))
		dlqURL, err := ensureQueue(ctx, q, name+"-dlq", nil)
		if err != nil {
			return nil, err
		}
		dlqARN, err := queueARN(ctx, q, dlqURL)
		if err != nil {
			return nil, err
		}
		redrive, _ := json.Marshal(map[string]any{"deadLetterTargetArn": dlqARN, "maxReceiveCount": ExportMaxReceiveCount})
		if urls[t], err = ensureQueue(ctx, q, name, map[string]string{
			string(sqstypes.QueueAttributeNameRedrivePolicy):     string(redrive),
			string(sqstypes.QueueAttributeNameVisibilityTimeout): fmt.Sprint(LocalExportVisibilityTimeout),
		}); err != nil {
			return nil, err
		}
	}
	return urls, nil
}

// ensureBucket creates a private bucket with the given lifecycle rules
// (which replace any it had).
func ensureBucket(ctx context.Context, objects *s3.Client, bucket, region string, rules []s3types.LifecycleRule) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if region != "" && region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}
	}
	_, err := objects.CreateBucket(ctx, in)
	var owned *s3types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	if _, err := objects.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String(bucket),
		PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true),
			BlockPublicPolicy: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}}); err != nil {
		return fmt.Errorf("block public access to bucket %s: %w", bucket, err)
	}
	if _, err := objects.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String(bucket),
		LifecycleConfiguration: &s3types.BucketLifecycleConfiguration{Rules: rules}}); err != nil {
		return fmt.Errorf("set lifecycle of bucket %s: %w", bucket, err)
	}
	return nil
}
