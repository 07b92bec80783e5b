package access_test

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/access/iamsim"
)

// The replication of a dev stage's backup bucket (us-east-1) to its replica
// bucket (us-west-2): the replication role's policy, the tenant keys'
// statement for it, and the replica key's policy.
const (
	drRegion          = "us-west-2"
	drBackupBucketARN = "arn:aws:s3:::tessera-dev-backups"
	drReplicaARN      = "arn:aws:s3:::tessera-dev-backups-dr-" + simAccount + "-" + drRegion
	drExportBucketARN = "arn:aws:s3:::tessera-dev-exports"
	replicaKeyARN     = "arn:aws:kms:" + drRegion + ":" + simAccount + ":key/6666ffff-0000-0000-0000-00000replica"
	// otherDRKeyARN is another key in the DR Region (default key policy).
	otherDRKeyARN = "arn:aws:kms:" + drRegion + ":" + simAccount + ":key/7777aaaa-0000-0000-0000-0000000other"
)

var replicationResources = access.ReplicationResources{
	Stage: devStage, Partition: "aws", Account: simAccount, URLSuffix: "amazonaws.com",
	SourceRegion: "us-east-1", SourceBucketARN: drBackupBucketARN,
	ReplicaRegion: drRegion, ReplicaBucketARN: drReplicaARN,
}

// replicationSession is S3's session of the replication role.
func replicationSession(stage string) string {
	return "arn:aws:sts::" + simAccount + ":assumed-role/" + access.BackupReplicationRoleName(stage) + "/s3-replication"
}

// tenantKeyOf is the context of a KMS request on dev's key of tenant,
// through service, with the tenant encryption context ctxTenant.
func tenantKeyOf(tenant, service, ctxTenant string) map[string]any {
	m := map[string]any{
		"aws:ResourceTag/" + access.TenantTag: tenant,
		"aws:ResourceTag/" + access.StageTag:  devStage,
		"kms:ResourceAliases":                 []string{access.KeyAlias(devStage, tenant)},
	}
	if service != "" {
		m["kms:ViaService"] = service
	}
	if ctxTenant != "" {
		m["kms:EncryptionContext:"+access.TenantTag] = ctxTenant
	}
	return m
}

// replicaKeyOf is the context of a KMS request on the replica key through
// service.
func replicaKeyOf(service string) map[string]any {
	m := map[string]any{"kms:ResourceAliases": []string{access.ReplicaKeyAlias(devStage)}}
	if service != "" {
		m["kms:ViaService"] = service
	}
	return m
}

// assumedRole parses a role session's ARN: account, role name.
var assumedRole = regexp.MustCompile(`^arn:aws:sts::([0-9]{12}):assumed-role/([^/]+)/`)

// merged returns a copy of a with b's keys set.
func merged(a, b map[string]any) map[string]any {
	m := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

// anyKMS is an identity policy that allows every KMS action: with it, the
// key policy alone decides.
var anyKMS = json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`)

// TestSimBackupReplication evaluates S3's replication of the backup
// bucket. The replication role may read the backup bucket's object
// versions and write replicas, and nothing else of either bucket or of any
// other; it may decrypt with a tenant key of its stage only through S3 in
// the source Region and only with the tenant's encryption context; and it
// may encrypt replicas only with the replica key, through S3 in the DR
// Region. Nobody else may use either key that way, and nobody at all may
// decrypt replicas.
func TestSimBackupReplication(t *testing.T) {
	replPolicy := access.BackupReplicationPolicy(replicationResources).JSON()
	tenantKey := access.TenantKeyPolicy(access.KeyPolicyParams{
		Stage: devStage, Partition: "aws", Account: simAccount, Region: "us-east-1", TenantID: "ab",
		DataAccessRoleARN: dataRoleARN(devStage), AdminRoleARN: provisionerRoleARN(devStage),
	}).JSON()
	prodTenantKey := access.TenantKeyPolicy(access.KeyPolicyParams{
		Stage: prodStage, Partition: "aws", Account: simAccount, Region: "us-east-1", TenantID: "ab",
		DataAccessRoleARN: dataRoleARN(prodStage), AdminRoleARN: provisionerRoleARN(prodStage),
	}).JSON()
	replicaKey := access.ReplicaKeyPolicy(replicationResources).JSON()

	const (
		s3East     = "s3.us-east-1.amazonaws.com"
		s3West     = "s3." + drRegion + ".amazonaws.com"
		ownObject  = drBackupBucketARN + "/ab/snapshots/01JSNAP/part-00000.jsonl"
		ownReplica = drReplicaARN + "/ab/snapshots/01JSNAP/part-00000.jsonl"
	)
	var (
		reqs []iamsim.Request
		want []string
	)
	add := func(name, principal string, identity, resourcePolicy json.RawMessage, action, resource string, ctx map[string]any, decision string) {
		// IAM sets aws:PrincipalArn to the role's ARN for a role session.
		if m := assumedRole.FindStringSubmatch(principal); m != nil {
			ctx = merged(ctx, map[string]any{"aws:PrincipalArn": "arn:aws:iam::" + m[1] + ":role/" + m[2]})
		} else {
			ctx = merged(ctx, map[string]any{"aws:PrincipalArn": principal})
		}
		reqs = append(reqs, iamsim.Request{Name: name, IdentityPolicies: []json.RawMessage{identity}, ResourcePolicy: resourcePolicy,
			Principal: principal, Action: action, Resource: resource, AccountID: simAccount, Context: ctx})
		want = append(want, decision)
	}
	repl := replicationSession(devStage)

	// S3 actions.
	for _, c := range []struct {
		name, action, resource, want string
	}{
		{"s3/read-config", "s3:GetReplicationConfiguration", drBackupBucketARN, allowed},
		{"s3/list-source", "s3:ListBucket", drBackupBucketARN, allowed},
		{"s3/read-version", "s3:GetObjectVersionForReplication", ownObject, allowed},
		{"s3/read-version-tags", "s3:GetObjectVersionTagging", ownObject, allowed},
		{"s3/write-replica", "s3:ReplicateObject", ownReplica, allowed},
		{"s3/write-replica-tags", "s3:ReplicateTags", ownReplica, allowed},
		{"s3/write-delete-marker", "s3:ReplicateDelete", ownReplica, allowed},
		{"s3/plain-read-source", "s3:GetObject", ownObject, implicit},
		{"s3/plain-write-replica", "s3:PutObject", ownReplica, implicit},
		{"s3/delete-replica", "s3:DeleteObject", ownReplica, implicit},
		{"s3/delete-replica-version", "s3:DeleteObjectVersion", ownReplica, implicit},
		{"s3/replicate-into-source", "s3:ReplicateObject", ownObject, implicit},
		{"s3/read-exports", "s3:GetObjectVersionForReplication", drExportBucketARN + "/ab/x.jsonl", implicit},
		{"s3/replicate-into-exports", "s3:ReplicateObject", drExportBucketARN + "/ab/x.jsonl", implicit},
	} {
		add(c.name, repl, replPolicy, nil, c.action, c.resource, map[string]any{}, c.want)
	}

	// The tenant key: decrypt through S3 in its Region, for the backup
	// bucket's objects, with the tenant's context.
	add("tenant-key/decrypt", repl, replPolicy, tenantKey, "kms:Decrypt", keyABARN, tenantKeyOf("ab", s3East, "ab"), allowed)
	add("tenant-key/decrypt-directly", repl, replPolicy, tenantKey, "kms:Decrypt", keyABARN, tenantKeyOf("ab", "", "ab"), implicit)
	add("tenant-key/decrypt-via-dynamodb", repl, replPolicy, tenantKey, "kms:Decrypt", keyABARN, tenantKeyOf("ab", "dynamodb.us-east-1.amazonaws.com", "ab"), implicit)
	add("tenant-key/decrypt-via-s3-elsewhere", repl, replPolicy, tenantKey, "kms:Decrypt", keyABARN, tenantKeyOf("ab", s3West, "ab"), implicit)
	add("tenant-key/decrypt-other-tenant-context", repl, replPolicy, tenantKey, "kms:Decrypt", keyABARN, tenantKeyOf("ab", s3East, "cd"), implicit)
	add("tenant-key/decrypt-without-tenant-context", repl, replPolicy, tenantKey, "kms:Decrypt", keyABARN, tenantKeyOf("ab", s3East, ""), implicit)
	add("tenant-key/decrypt-other-stage-key", repl, replPolicy, prodTenantKey, "kms:Decrypt", keyABARN, map[string]any{
		"aws:ResourceTag/" + access.TenantTag: "ab", "aws:ResourceTag/" + access.StageTag: prodStage,
		"kms:ResourceAliases": []string{access.KeyAlias(prodStage, "ab")},
		"kms:ViaService":      s3East, "kms:EncryptionContext:" + access.TenantTag: "ab",
	}, implicit)
	for _, a := range []string{"Encrypt", "GenerateDataKey", "ReEncryptFrom", "CreateGrant"} {
		add("tenant-key/"+a, repl, replPolicy, tenantKey, "kms:"+a, keyABARN, tenantKeyOf("ab", s3East, "ab"), implicit)
	}
	// Another role, even with every KMS action in its own policy, gets
	// nothing from the replication statement.
	add("tenant-key/other-role-via-s3", provisionerSession(devStage), anyKMS, tenantKey, "kms:Decrypt", keyABARN, tenantKeyOf("ab", s3East, "ab"), implicit)
	// The replication role of another stage.
	add("tenant-key/prod-replication-role", replicationSession(prodStage), anyKMS, tenantKey, "kms:Decrypt", keyABARN, tenantKeyOf("ab", s3East, "ab"), implicit)

	// The replica key: encrypt through S3 in the DR Region, for the replica
	// bucket's objects.
	add("replica-key/encrypt", repl, replPolicy, replicaKey, "kms:Encrypt", replicaKeyARN, replicaKeyOf(s3West), allowed)
	add("replica-key/generate-data-key", repl, replPolicy, replicaKey, "kms:GenerateDataKey", replicaKeyARN, replicaKeyOf(s3West), allowed)
	add("replica-key/encrypt-directly", repl, replPolicy, replicaKey, "kms:Encrypt", replicaKeyARN, replicaKeyOf(""), implicit)
	add("replica-key/encrypt-via-s3-at-home", repl, replPolicy, replicaKey, "kms:Encrypt", replicaKeyARN, replicaKeyOf(s3East), implicit)
	add("replica-key/decrypt-by-replication", repl, replPolicy, replicaKey, "kms:Decrypt", replicaKeyARN, replicaKeyOf(s3West), implicit)
	add("replica-key/other-key", repl, replPolicy, iamKeyPolicy, "kms:Encrypt", otherDRKeyARN, map[string]any{
		"kms:ResourceAliases": []string{"alias/payments"}, "kms:ViaService": s3West,
	}, implicit)
	add("replica-key/other-role-encrypts", provisionerSession(devStage), anyKMS, replicaKey, "kms:Encrypt", replicaKeyARN, replicaKeyOf(s3West), implicit)
	add("replica-key/other-role-decrypts", provisionerSession(devStage), anyKMS, replicaKey, "kms:Decrypt", replicaKeyARN, replicaKeyOf(s3West), implicit)

	// Nobody decrypts replicas, not even a tenant session or the account
	// (until a failover adds the DR restore path's statement).
	add("replica-key/tenant-session-decrypts", dataSession(devStage), anyKMS, replicaKey, "kms:Decrypt", replicaKeyARN,
		tenant("ab", replicaKeyOf(s3West)), implicit)
	add("replica-key/root-decrypts", "arn:aws:iam::"+simAccount+":root", anyKMS, replicaKey, "kms:Decrypt", replicaKeyARN, replicaKeyOf(s3West), implicit)
	// The account administers it.
	add("replica-key/root-puts-policy", "arn:aws:iam::"+simAccount+":root", anyKMS, replicaKey, "kms:PutKeyPolicy", replicaKeyARN, map[string]any{}, allowed)
	add("replica-key/root-grants", "arn:aws:iam::"+simAccount+":root", anyKMS, replicaKey, "kms:CreateGrant", replicaKeyARN, map[string]any{}, implicit)

	results, err := iamsim.Run(iamsim.Script(t), reqs)
	if err != nil {
		t.Fatal(err)
	}
	iamsim.Check(t, reqs, results, want)
}
