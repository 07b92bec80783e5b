package bootstrap_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tessera-saas/tessera/internal/local/bootstrap"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
)

// TestBackupBucketLifecycle: the backup bucket the bootstrap makes expires
// each tier's objects (by their tier tag) after the tier's plan retention
// (basic 7 days, standard 14, premium 35) with noncurrent versions a day
// later, every object after 35 days, and removes expired delete markers,
// as the emulator's GetBucketLifecycleConfiguration reports; the export
// bucket keeps its own single rule; and a second run changes neither.
func TestBackupBucketLifecycle(t *testing.T) {
	e := testenv.Setup(t)
	ctx := context.Background()
	objects := awsconfig.NewS3(e.Config)
	rulesOf := func(bucket string) map[string]s3types.LifecycleRule {
		t.Helper()
		out, err := objects.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(bucket)})
		if err != nil {
			t.Fatalf("lifecycle of %s: %v", bucket, err)
		}
		m := map[string]s3types.LifecycleRule{}
		for _, r := range out.Rules {
			m[aws.ToString(r.ID)] = r
		}
		return m
	}
	check := func() {
		t.Helper()
		rules := rulesOf(e.Settings.BackupBucket)
		if len(rules) != len(plan.Tiers)+2 {
			t.Errorf("backup bucket has %d rules, want %d (one per tier, any object, delete markers): %v", len(rules), len(plan.Tiers)+2, keysOf(rules))
		}
		for _, tier := range plan.Tiers {
			l, _ := plan.For(tier)
			r, ok := rules["ExpireBackups-"+string(tier)]
			switch {
			case !ok:
				t.Errorf("no rule for tier %s: %v", tier, keysOf(rules))
			case r.Status != s3types.ExpirationStatusEnabled:
				t.Errorf("tier %s: status %s", tier, r.Status)
			case tagOf(r) != recovery.TierTag+"="+string(tier):
				t.Errorf("tier %s: filter %s, want the tag %s=%s", tier, tagOf(r), recovery.TierTag, tier)
			case r.Expiration == nil || aws.ToInt32(r.Expiration.Days) != int32(l.BackupRetentionDays):
				t.Errorf("tier %s: expiration %+v, want after the plan's %d days", tier, r.Expiration, l.BackupRetentionDays)
			case r.NoncurrentVersionExpiration == nil || aws.ToInt32(r.NoncurrentVersionExpiration.NoncurrentDays) != 1:
				t.Errorf("tier %s: noncurrent expiration %+v, want after 1 day", tier, r.NoncurrentVersionExpiration)
			}
		}
		anyObject, ok := rules["ExpireBackups-any"]
		switch {
		case !ok:
			t.Errorf("no catch-all rule: %v", keysOf(rules))
		case tagOf(anyObject) != "" || anyObject.Expiration == nil || aws.ToInt32(anyObject.Expiration.Days) != 35:
			t.Errorf("catch-all rule: filter %q, expiration %+v; want every object after 35 days", tagOf(anyObject), anyObject.Expiration)
		case anyObject.AbortIncompleteMultipartUpload == nil || aws.ToInt32(anyObject.AbortIncompleteMultipartUpload.DaysAfterInitiation) != 1:
			t.Errorf("catch-all rule: abort %+v, want after 1 day", anyObject.AbortIncompleteMultipartUpload)
		}
		if m, ok := rules["RemoveExpiredDeleteMarkers"]; !ok || m.Expiration == nil || !aws.ToBool(m.Expiration.ExpiredObjectDeleteMarker) {
			t.Errorf("delete-marker rule %+v (present: %v)", m.Expiration, ok)
		}
		exports := rulesOf(e.Settings.ExportBucket)
		if r, ok := exports["abort-incomplete-uploads"]; len(exports) != 1 || !ok || r.Expiration != nil {
			t.Errorf("export bucket rules %v, want only abort-incomplete-uploads", keysOf(exports))
		}
	}
	check()
	if _, err := bootstrap.Run(ctx, e.Config, e.Settings); err != nil {
		t.Fatalf("bootstrap again: %v", err)
	}
	check()
}

// tagOf renders a rule's tag filter as key=value, "" for none.
func tagOf(r s3types.LifecycleRule) string {
	if r.Filter == nil {
		return ""
	}
	tag := r.Filter.Tag
	if tag == nil && r.Filter.And != nil && len(r.Filter.And.Tags) == 1 {
		tag = &r.Filter.And.Tags[0]
	}
	if tag == nil {
		return ""
	}
	return aws.ToString(tag.Key) + "=" + aws.ToString(tag.Value)
}

func keysOf(m map[string]s3types.LifecycleRule) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
