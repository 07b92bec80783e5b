package bootstrap

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/retention"
)

// ensureBackupBucket creates the backup bucket, which holds each tenant's
// change log (changefeed) and snapshots under "<tenantId>/", SSE-KMS with
// the tenant's key: private, with the lifecycle rules of the CDK app's
// backup bucket (retention.BackupRules: each tier's objects, by their tier
// tag, expire after the tier's plan retention; any object after the
// longest).
func ensureBackupBucket(ctx context.Context, objects *s3.Client, bucket, region string) error {
	return ensureBucket(ctx, objects, bucket, region, BackupLifecycleRules())
}

// BackupLifecycleRules are retention.BackupRules as S3 lifecycle rules.
func BackupLifecycleRules() []s3types.LifecycleRule {
	days := func(n int) *int32 { return aws.Int32(int32(n)) }
	rules := retention.BackupRules()
	out := make([]s3types.LifecycleRule, 0, len(rules))
	for _, r := range rules {
		lr := s3types.LifecycleRule{ID: aws.String(r.ID), Status: s3types.ExpirationStatusEnabled,
			Filter: &s3types.LifecycleRuleFilter{Prefix: aws.String("")}}
		if r.Tier != "" {
			lr.Filter = &s3types.LifecycleRuleFilter{Tag: &s3types.Tag{Key: aws.String(recovery.TierTag), Value: aws.String(string(r.Tier))}}
		}
		if r.ExpireDays > 0 {
			lr.Expiration = &s3types.LifecycleExpiration{Days: days(r.ExpireDays)}
		}
		if r.RemoveExpiredDeleteMarkers {
			lr.Expiration = &s3types.LifecycleExpiration{ExpiredObjectDeleteMarker: aws.Bool(true)}
		}
		if r.NoncurrentDays > 0 {
			lr.NoncurrentVersionExpiration = &s3types.NoncurrentVersionExpiration{NoncurrentDays: days(r.NoncurrentDays)}
		}
		if r.AbortUploadDays > 0 {
			lr.AbortIncompleteMultipartUpload = &s3types.AbortIncompleteMultipartUpload{DaysAfterInitiation: days(r.AbortUploadDays)}
		}
		out = append(out, lr)
	}
	return out
}
