package access_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/access"
)

// TestTenantKeyPolicyGrants checks the one statement that lets anyone make
// grants on a tenant key: the provisioner's role only, kms:CreateGrant only,
// only for an AWS resource, and only through DynamoDB's endpoint in the
// key's Region (or any Region when none is given) of the partition.
func TestTenantKeyPolicyGrants(t *testing.T) {
	const admin = "arn:aws:iam::123456789012:role/provisioner"
	for _, tc := range []struct {
		partition, region string
		wantVia           string
	}{
		{"aws", "us-east-1", "dynamodb.us-east-1.amazonaws.com"},
		{"aws", "", "dynamodb.*.amazonaws.com"},
		{"aws-cn", "cn-north-1", "dynamodb.cn-north-1.amazonaws.com.cn"},
		{"aws-us-gov", "us-gov-west-1", "dynamodb.us-gov-west-1.amazonaws.com"},
	} {
		t.Run(tc.partition+"/"+tc.region, func(t *testing.T) {
			pol := access.TenantKeyPolicy(access.KeyPolicyParams{
				Partition: tc.partition, Account: "123456789012", Region: tc.region, TenantID: "t-ab",
				DataAccessRoleARN: "arn:aws:iam::123456789012:role/TenantDataAccessRole", AdminRoleARN: admin,
			})
			var grants []access.Statement
			for _, st := range pol.Statement {
				if st.Effect == "Allow" && slices.ContainsFunc(st.Action, func(a string) bool {
					return a == "kms:CreateGrant" || a == "kms:*" || a == "kms:Create*"
				}) {
					grants = append(grants, st)
				}
			}
			if len(grants) != 1 {
				t.Fatalf("%d statements allow kms:CreateGrant, want 1: %+v", len(grants), grants)
			}
			st := grants[0]
			if !slices.Equal(st.Action, []string{"kms:CreateGrant"}) {
				t.Errorf("actions = %v, want only kms:CreateGrant", st.Action)
			}
			if len(st.Principal) != 1 || !slices.Equal(st.Principal["AWS"], []string{admin}) {
				t.Errorf("principal = %v, want only %s", st.Principal, admin)
			}
			want := map[string]access.Condition{
				"Bool":       {"kms:GrantIsForAWSResource": {"true"}},
				"StringLike": {"kms:ViaService": {tc.wantVia}},
			}
			if !reflect.DeepEqual(st.Condition, want) {
				t.Errorf("conditions = %v, want %v", st.Condition, want)
			}
		})
	}
}

// TestTenantKeyPolicyReplication checks the statement that lets S3
// replicate a tenant's backup objects: kms:Decrypt only, the account as
// principal, and only for the stage's replication role (by ARN, in the
// key's partition), through S3's endpoint in the key's Region (any Region
// when none is given), with the tenant's encryption context.
func TestTenantKeyPolicyReplication(t *testing.T) {
	for _, tc := range []struct {
		partition, region string
		wantVia, wantRole string
	}{
		{"aws", "us-east-1", "s3.us-east-1.amazonaws.com", "arn:aws:iam::123456789012:role/tessera-dev-backup-replication"},
		{"aws", "", "s3.*.amazonaws.com", "arn:aws:iam::123456789012:role/tessera-dev-backup-replication"},
		{"aws-cn", "cn-north-1", "s3.cn-north-1.amazonaws.com.cn", "arn:aws-cn:iam::123456789012:role/tessera-dev-backup-replication"},
	} {
		t.Run(tc.partition+"/"+tc.region, func(t *testing.T) {
			pol := access.TenantKeyPolicy(access.KeyPolicyParams{
				Stage: "dev", Partition: tc.partition, Account: "123456789012", Region: tc.region, TenantID: "t-ab",
				DataAccessRoleARN: "arn:aws:iam::123456789012:role/TenantDataAccessRole-dev", AdminRoleARN: "arn:aws:iam::123456789012:role/provisioner",
			})
			var found []access.Statement
			for _, st := range pol.Statement {
				if st.Sid == "BackupReplicationDecryptsThroughS3" {
					found = append(found, st)
				}
			}
			if len(found) != 1 {
				t.Fatalf("%d replication statements, want 1", len(found))
			}
			st := found[0]
			if st.Effect != "Allow" || !slices.Equal(st.Action, []string{"kms:Decrypt"}) {
				t.Errorf("%s %v, want Allow kms:Decrypt only", st.Effect, st.Action)
			}
			if root := "arn:" + tc.partition + ":iam::123456789012:root"; len(st.Principal) != 1 || !slices.Equal(st.Principal["AWS"], []string{root}) {
				t.Errorf("principal %v, want the account %s", st.Principal, root)
			}
			want := map[string]access.Condition{
				"ArnEquals":    {"aws:PrincipalArn": {tc.wantRole}},
				"StringLike":   {"kms:ViaService": {tc.wantVia}},
				"StringEquals": {"kms:EncryptionContext:" + access.TenantTag: {"t-ab"}},
			}
			if !reflect.DeepEqual(st.Condition, want) {
				t.Errorf("conditions = %v, want %v", st.Condition, want)
			}
			if got := access.BackupReplicationRoleARN(tc.partition, "123456789012", "dev"); got != tc.wantRole {
				t.Errorf("BackupReplicationRoleARN = %s, want %s", got, tc.wantRole)
			}
		})
	}
}
