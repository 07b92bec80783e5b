package main

import (
	"slices"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/access"
)

// TestTenantKeyPolicy checks the key policy of a tenant's KMS key: of all
// principals, only TenantDataAccessRole may use the key (encrypt, decrypt,
// generate data keys), and only in sessions tagged with this tenant and
// with this tenant's encryption context; besides it, the stage's backup
// replication role may decrypt, only through S3 in the key's Region and
// only with this tenant's encryption context (the account is that
// statement's principal, with the role's ARN as its condition).
func TestTenantKeyPolicy(t *testing.T) {
	const (
		tenant   = "t-acme"
		dataRole = "arn:aws:iam::123456789012:role/TenantDataAccessRole-test"
		admin    = "arn:aws:iam::123456789012:role/provisioner"
		root     = "arn:aws:iam::123456789012:root"
		replRole = "arn:aws:iam::123456789012:role/tessera-test-backup-replication"
	)
	pol := access.TenantKeyPolicy(access.KeyPolicyParams{
		Stage: testStage, Partition: "aws", Account: "123456789012", Region: "eu-west-1", TenantID: tenant,
		DataAccessRoleARN: dataRole, AdminRoleARN: admin,
	})
	wantReplication := map[string]access.Condition{
		"ArnEquals":    {"aws:PrincipalArn": {replRole}},
		"StringLike":   {"kms:ViaService": {"s3.eu-west-1.amazonaws.com"}},
		"StringEquals": {"kms:EncryptionContext:" + access.TenantTag: {tenant}},
	}
	var replication int
	useActions := []string{"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:ReEncrypt*"}
	wantConditions := map[string]access.Condition{
		"StringEquals": {
			"aws:PrincipalTag/" + access.TenantTag:      {tenant},
			"kms:EncryptionContext:" + access.TenantTag: {tenant},
		},
	}

	// Who may use the key, statement by statement.
	users := map[string]bool{}
	for _, st := range pol.Statement {
		if st.Effect != "Allow" {
			continue
		}
		for _, a := range useActions {
			if !slices.ContainsFunc(st.Action, func(p string) bool { return actionMatches(p, a) }) {
				continue
			}
			if st.Sid == "BackupReplicationDecryptsThroughS3" {
				replication++
				t.Run(st.Sid+"/"+a, func(t *testing.T) {
					if !slices.Equal(st.Action, []string{"kms:Decrypt"}) || !slices.Equal(st.Principal["AWS"], []string{root}) || len(st.Principal) != 1 {
						t.Errorf("replication statement grants %v to %v, want only kms:Decrypt to the account (conditioned on the role)", st.Action, st.Principal)
					}
					if jsonOf(st.Condition) != jsonOf(wantReplication) {
						t.Errorf("replication conditions = %s, want %s", jsonOf(st.Condition), jsonOf(wantReplication))
					}
				})
				continue
			}
			for _, p := range st.Principal["AWS"] {
				users[p] = true
			}
			t.Run(st.Sid+"/"+a, func(t *testing.T) {
				if got := st.Principal["AWS"]; !slices.Equal(got, []string{dataRole}) || len(st.Principal) != 1 {
					t.Errorf("%s is granted to %v, want only %s", a, st.Principal, dataRole)
				}
				if jsonOf(st.Condition) != jsonOf(wantConditions) {
					t.Errorf("%s conditions = %s, want %s", a, jsonOf(st.Condition), jsonOf(wantConditions))
				}
			})
		}
	}
	if len(users) != 1 || !users[dataRole] {
		t.Errorf("key users = %v, want only %s", users, dataRole)
	}
	if replication != 1 {
		t.Errorf("%d use actions granted by the replication statement, want 1 (kms:Decrypt)", replication)
	}

	// Grants: only the provisioner, only for DynamoDB making itself a grant
	// for the tenant's dedicated table.
	for _, st := range pol.Statement {
		if st.Effect != "Allow" || !slices.ContainsFunc(st.Action, func(p string) bool { return actionMatches(p, "kms:CreateGrant") }) {
			continue
		}
		if !slices.Equal(st.Principal["AWS"], []string{admin}) {
			t.Errorf("%s: CreateGrant granted to %v, want only %s", st.Sid, st.Principal, admin)
		}
		want := map[string]access.Condition{
			"Bool":       {"kms:GrantIsForAWSResource": {"true"}},
			"StringLike": {"kms:ViaService": {"dynamodb.eu-west-1.amazonaws.com"}},
		}
		if jsonOf(st.Condition) != jsonOf(want) {
			t.Errorf("%s: CreateGrant conditions = %s, want %s", st.Sid, jsonOf(st.Condition), jsonOf(want))
		}
		if !slices.Equal(st.Action, []string{"kms:CreateGrant"}) {
			t.Errorf("%s: grants %v along with CreateGrant", st.Sid, st.Action)
		}
	}

	// Everyone named still gets what they need.
	for _, tc := range []struct {
		principal string
		action    string
	}{
		{root, "kms:PutKeyPolicy"},
		{root, "kms:DescribeKey"},
		{admin, "kms:ScheduleKeyDeletion"},
		{admin, "kms:DisableKey"},
		{admin, "kms:CreateGrant"},
		{dataRole, "kms:GenerateDataKey"},
		{dataRole, "kms:Decrypt"},
	} {
		t.Run("granted/"+tc.action, func(t *testing.T) {
			ok := slices.ContainsFunc(pol.Statement, func(st access.Statement) bool {
				return st.Effect == "Allow" && slices.Contains(st.Principal["AWS"], tc.principal) &&
					slices.ContainsFunc(st.Action, func(p string) bool { return actionMatches(p, tc.action) })
			})
			if !ok {
				t.Errorf("%s lacks %s", tc.principal, tc.action)
			}
		})
	}
}
