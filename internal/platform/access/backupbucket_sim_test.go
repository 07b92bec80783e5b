package access_test

import (
	"encoding/json"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/access/iamsim"
)

const backupBucketARN = "arn:aws:s3:::tessera-backups"

// TestSimTenantSessionReachesOnlyItsOwnBackups evaluates a session of
// tenant ab (TenantDataAccessRole's policy with the backup bucket) against
// its own and tenant cd's change log and snapshots: it may write and read
// its own objects and list its own prefix, and nothing of cd's; it may not
// delete even its own (lifecycle rules expire them).
func TestSimTenantSessionReachesOnlyItsOwnBackups(t *testing.T) {
	r := simResources
	r.BackupBucketARN = backupBucketARN
	policy := access.DataAccessPolicy(r).JSON()
	cases := []struct {
		name, action, resource string
		ctx                    map[string]any
		want                   string
	}{
		{"put-own-change-log", "s3:PutObject", backupBucketARN + "/ab/changes/2026-12-02T03/t-1-2.jsonl", tenant("ab", nil), iamsim.Allowed},
		{"get-own-change-log", "s3:GetObject", backupBucketARN + "/ab/changes/2026-12-02T03/t-1-2.jsonl", tenant("ab", nil), iamsim.Allowed},
		{"get-own-snapshot", "s3:GetObject", backupBucketARN + "/ab/snapshots/01J/items.jsonl", tenant("ab", nil), iamsim.Allowed},
		{"get-other-change-log", "s3:GetObject", backupBucketARN + "/cd/changes/2026-12-02T03/t-1-2.jsonl", tenant("ab", nil), iamsim.ImplicitlyDenied},
		{"put-other-change-log", "s3:PutObject", backupBucketARN + "/cd/changes/2026-12-02T03/t-1-2.jsonl", tenant("ab", nil), iamsim.ImplicitlyDenied},
		{"get-other-snapshot", "s3:GetObject", backupBucketARN + "/cd/snapshots/01J/items.jsonl", tenant("ab", nil), iamsim.ImplicitlyDenied},
		{"prefix-lookalike", "s3:GetObject", backupBucketARN + "/abc/changes/x.jsonl", tenant("ab", nil), iamsim.ImplicitlyDenied},
		{"delete-own", "s3:DeleteObject", backupBucketARN + "/ab/changes/x.jsonl", tenant("ab", nil), iamsim.ImplicitlyDenied},
		{"list-own-prefix", "s3:ListBucket", backupBucketARN, tenant("ab", map[string]any{"s3:prefix": "ab/changes/"}), iamsim.Allowed},
		{"list-other-prefix", "s3:ListBucket", backupBucketARN, tenant("ab", map[string]any{"s3:prefix": "cd/changes/"}), iamsim.ImplicitlyDenied},
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
