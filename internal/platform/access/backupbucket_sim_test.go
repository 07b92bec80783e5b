package access_test

import (
	"encoding/json"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/access/iamsim"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
)

const backupBucketARN = "arn:aws:s3:::tessera-backups"

// tierTag is the context of a request that tags the object with
// tessera-tier=tier (x-amz-tagging on PutObject, or PutObjectTagging).
func tierTag(tier string) map[string]any {
	return map[string]any{"s3:RequestObjectTagKeys": []string{recovery.TierTag}, "s3:RequestObjectTag/" + recovery.TierTag: tier}
}

// TestSimTenantSessionReachesOnlyItsOwnBackups evaluates a session of
// tenant ab (TenantDataAccessRole's policy with the backup bucket) against
// its own and tenant cd's change log and snapshots: it may write (tagged
// with its tier), read and list its own, and nothing of cd's, under either
// prefix; it may set only the tier tag, with a tier as its value; it may not
// delete even its own (lifecycle rules expire them).
func TestSimTenantSessionReachesOnlyItsOwnBackups(t *testing.T) {
	r := simResources
	r.BackupBucketARN = backupBucketARN
	policy := access.DataAccessPolicy(r).JSON()
	const (
		ownChange   = backupBucketARN + "/ab/changes/2026-12-02T03/t-1-2.jsonl"
		ownSnapshot = backupBucketARN + "/ab/snapshots/01JSNAP/part-00000.jsonl"
		ownManifest = backupBucketARN + "/ab/snapshots/01JSNAP/manifest.json"
		cdChange    = backupBucketARN + "/cd/changes/2026-12-02T03/t-1-2.jsonl"
		cdSnapshot  = backupBucketARN + "/cd/snapshots/01JSNAP/part-00000.jsonl"
		cdManifest  = backupBucketARN + "/cd/snapshots/01JSNAP/manifest.json"
	)
	cases := []struct {
		name, action, resource string
		ctx                    map[string]any
		want                   string
	}{
		{"put-own-change-log", "s3:PutObject", ownChange, tenant("ab", nil), iamsim.Allowed},
		{"get-own-change-log", "s3:GetObject", ownChange, tenant("ab", nil), iamsim.Allowed},
		{"put-own-snapshot", "s3:PutObject", ownSnapshot, tenant("ab", nil), iamsim.Allowed},
		{"get-own-snapshot", "s3:GetObject", ownSnapshot, tenant("ab", nil), iamsim.Allowed},
		{"get-own-manifest", "s3:GetObject", ownManifest, tenant("ab", nil), iamsim.Allowed},

		// The tier tag on upload (x-amz-tagging is authorized as
		// PutObjectTagging too) and alone.
		{"put-own-snapshot-tier-tagged", "s3:PutObject", ownSnapshot, tenant("ab", tierTag("premium")), iamsim.Allowed},
		{"tag-own-snapshot-with-tier", "s3:PutObjectTagging", ownSnapshot, tenant("ab", tierTag("basic")), iamsim.Allowed},
		{"tag-own-change-log-with-tier", "s3:PutObjectTagging", ownChange, tenant("ab", tierTag("standard")), iamsim.Allowed},
		{"tag-own-with-unknown-tier", "s3:PutObjectTagging", ownSnapshot, tenant("ab", tierTag("forever")), iamsim.ExplicitlyDenied},
		{"put-own-with-unknown-tier", "s3:PutObject", ownSnapshot, tenant("ab", tierTag("forever")), iamsim.ExplicitlyDenied},
		{"tag-own-with-other-key", "s3:PutObjectTagging", ownSnapshot, tenant("ab", map[string]any{
			"s3:RequestObjectTagKeys": []string{recovery.TierTag, "keep"}, "s3:RequestObjectTag/" + recovery.TierTag: "basic"}), iamsim.ExplicitlyDenied},
		{"put-own-with-other-key-only", "s3:PutObject", ownSnapshot, tenant("ab", map[string]any{
			"s3:RequestObjectTagKeys": []string{"keep"}}), iamsim.ExplicitlyDenied},
		{"tag-other-snapshot", "s3:PutObjectTagging", cdSnapshot, tenant("ab", tierTag("basic")), iamsim.ImplicitlyDenied},
		{"tag-other-change-log", "s3:PutObjectTagging", cdChange, tenant("ab", tierTag("basic")), iamsim.ImplicitlyDenied},

		// Tenant cd's change log and snapshots: nothing.
		{"get-other-change-log", "s3:GetObject", cdChange, tenant("ab", nil), iamsim.ImplicitlyDenied},
		{"put-other-change-log", "s3:PutObject", cdChange, tenant("ab", nil), iamsim.ImplicitlyDenied},
		{"put-other-change-log-tagged", "s3:PutObject", cdChange, tenant("ab", tierTag("basic")), iamsim.ImplicitlyDenied},
		{"get-other-snapshot", "s3:GetObject", cdSnapshot, tenant("ab", nil), iamsim.ImplicitlyDenied},
		{"get-other-manifest", "s3:GetObject", cdManifest, tenant("ab", nil), iamsim.ImplicitlyDenied},
		{"put-other-snapshot", "s3:PutObject", cdSnapshot, tenant("ab", nil), iamsim.ImplicitlyDenied},
		{"put-other-manifest", "s3:PutObject", cdManifest, tenant("ab", nil), iamsim.ImplicitlyDenied},
		{"prefix-lookalike", "s3:GetObject", backupBucketARN + "/abc/changes/x.jsonl", tenant("ab", nil), iamsim.ImplicitlyDenied},
		{"prefix-lookalike-snapshot", "s3:GetObject", backupBucketARN + "/abc/snapshots/01JSNAP/manifest.json", tenant("ab", nil), iamsim.ImplicitlyDenied},

		// No deletes, not even of its own.
		{"delete-own", "s3:DeleteObject", ownChange, tenant("ab", nil), iamsim.ImplicitlyDenied},
		{"delete-own-snapshot", "s3:DeleteObject", ownSnapshot, tenant("ab", nil), iamsim.ImplicitlyDenied},
		{"delete-own-version", "s3:DeleteObjectVersion", ownSnapshot, tenant("ab", nil), iamsim.ImplicitlyDenied},
		{"delete-own-tags", "s3:DeleteObjectTagging", ownSnapshot, tenant("ab", nil), iamsim.ImplicitlyDenied},

		// Listing: its own prefixes only.
		{"list-own-prefix", "s3:ListBucket", backupBucketARN, tenant("ab", map[string]any{"s3:prefix": "ab/changes/"}), iamsim.Allowed},
		{"list-own-snapshots", "s3:ListBucket", backupBucketARN, tenant("ab", map[string]any{"s3:prefix": recovery.SnapshotPrefix("ab")}), iamsim.Allowed},
		{"list-other-prefix", "s3:ListBucket", backupBucketARN, tenant("ab", map[string]any{"s3:prefix": "cd/changes/"}), iamsim.ImplicitlyDenied},
		{"list-other-snapshots", "s3:ListBucket", backupBucketARN, tenant("ab", map[string]any{"s3:prefix": recovery.SnapshotPrefix("cd")}), iamsim.ImplicitlyDenied},
		{"list-lookalike-snapshots", "s3:ListBucket", backupBucketARN, tenant("ab", map[string]any{"s3:prefix": "abc/snapshots/"}), iamsim.ImplicitlyDenied},
		{"list-whole-bucket", "s3:ListBucket", backupBucketARN, tenant("ab", map[string]any{"s3:prefix": ""}), iamsim.ImplicitlyDenied},
		{"untagged-session", "s3:GetObject", backupBucketARN + "/ab/changes/x.jsonl", map[string]any{}, iamsim.ImplicitlyDenied},
	}
	var reqs []iamsim.Request
	var want []string
	for _, c := range cases {
		reqs = append(reqs, iamsim.Request{Name: c.name, IdentityPolicies: []json.RawMessage{policy},
			Principal: sessionARN, Action: c.action, Resource: c.resource, AccountID: simAccount, Context: c.ctx})
		want = append(want, c.want)
	}
	results, err := iamsim.Run(iamsim.Script(t), reqs)
	if err != nil {
		t.Fatal(err)
	}
	iamsim.Check(t, reqs, results, want)
}

// TestBackupTierValuesAreTiers: the tier values the policy accepts on the
// tier tag are exactly the recovery.TierTag values writers set, the tiers.
func TestBackupTierValuesAreTiers(t *testing.T) {
	got := access.BackupTierValues()
	want := []string{"basic", "standard", "premium"}
	if len(got) != len(want) {
		t.Fatalf("BackupTierValues = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("BackupTierValues = %v, want %v", got, want)
		}
	}
}
