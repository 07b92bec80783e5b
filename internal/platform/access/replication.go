package access

// Disaster recovery: S3 replicates each stage's backup bucket (every
// tenant's change log and snapshots) to a bucket in a second Region, where
// the replicas are encrypted under one key of that Region (S3 replication
// takes one replica key per rule, so per-tenant keys there would need a
// rule per tenant). The policies below are the replication role's, the
// replica key's, and the statement of each tenant key's policy
// (TenantKeyPolicy) that lets the replication role decrypt that tenant's
// backup objects.

// BackupReplicationRoleName names the role S3 replicates a stage's backup
// bucket with: "tessera-<stage>-backup-replication". The name is fixed so
// that the tenant key policies the provisioner writes at run time, and the
// replica key's policy in the other Region, can name the role without a
// reference to the stack that makes it.
func BackupReplicationRoleName(stage string) string {
	return "tessera-" + stage + "-backup-replication"
}

// BackupReplicationRoleARN is BackupReplicationRoleName's ARN in account.
func BackupReplicationRoleARN(partition, account, stage string) string {
	return "arn:" + partition + ":iam::" + account + ":role/" + BackupReplicationRoleName(stage)
}

// ReplicaKeyAlias is the alias of a stage's replica key in the DR Region:
// "alias/tessera/<stage>/backup-replica", outside KeyAliasPrefix, so that
// nothing that manages tenant keys reaches it.
func ReplicaKeyAlias(stage string) string { return "alias/tessera/" + stage + "/backup-replica" }

// ReplicationResources names what the replication policies apply to. The
// CDK app passes tokens; tests pass literal values.
type ReplicationResources struct {
	Stage string
	// Partition and Account are shared by both Regions ("aws",
	// "123456789012"); URLSuffix is the partition's DNS suffix
	// ("amazonaws.com").
	Partition, Account, URLSuffix string
	// SourceRegion holds the backup bucket and the tenant keys.
	SourceRegion    string
	SourceBucketARN string
	// ReplicaRegion holds the replica bucket and the replica key.
	ReplicaRegion    string
	ReplicaBucketARN string
}

// Replication actions of the role S3 replicates with.
var (
	// ReplicationSourceBucketActions read the source bucket's replication
	// configuration and list it.
	ReplicationSourceBucketActions = []string{"s3:GetReplicationConfiguration", "s3:ListBucket"}
	// ReplicationSourceObjectActions read each object version to
	// replicate, with its ACL and tags (the tier tag, which the replica
	// bucket's lifecycle rules expire replicas by).
	ReplicationSourceObjectActions = []string{"s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"}
	// ReplicationDestinationActions write replicas, delete markers and
	// tags.
	ReplicationDestinationActions = []string{"s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"}
	// ReplicaKeyActions encrypt replicas under the replica key.
	ReplicaKeyActions = []string{"kms:Encrypt", "kms:GenerateDataKey"}
)

// s3Endpoint is the kms:ViaService value of S3 in region.
func (r ReplicationResources) s3Endpoint(region string) string {
	return "s3." + region + "." + r.URLSuffix
}

// BackupReplicationPolicy is the permission policy of the replication
// role: read the backup bucket's object versions, write replicas to the
// replica bucket, decrypt with tenant keys of this stage (their alias and
// stage tag) only through S3 in the source Region, and encrypt with the
// replica key only through S3 in the DR Region. Through S3, the role
// reaches no object but the backup bucket's and the replica bucket's, so
// the key statements need no object condition. The tenant keys' and the
// replica key's own policies must allow the same (TenantKeyPolicy,
// ReplicaKeyPolicy).
func BackupReplicationPolicy(r ReplicationResources) Policy {
	kms := func(region string) string {
		return "arn:" + r.Partition + ":kms:" + region + ":" + r.Account + ":key/*"
	}
	return Policy{Version: "2012-10-17", Statement: []Statement{
		{Sid: "ReadBackupBucketReplicationConfig", Effect: "Allow", Action: ReplicationSourceBucketActions,
			Resource: []string{r.SourceBucketARN}},
		{Sid: "ReadBackupObjectVersions", Effect: "Allow", Action: ReplicationSourceObjectActions,
			Resource: []string{r.SourceBucketARN + "/*"}},
		{Sid: "WriteReplicas", Effect: "Allow", Action: ReplicationDestinationActions,
			Resource: []string{r.ReplicaBucketARN + "/*"}},
		{Sid: "DecryptTenantBackupsThroughS3", Effect: "Allow", Action: []string{"kms:Decrypt"},
			Resource: []string{kms(r.SourceRegion)},
			Condition: map[string]Condition{
				"StringEquals": {
					"kms:ViaService":              {r.s3Endpoint(r.SourceRegion)},
					"aws:ResourceTag/" + StageTag: {r.Stage},
				},
				"ForAnyValue:StringLike": {"kms:ResourceAliases": {KeyAliasPrefix(r.Stage) + "*"}},
			}},
		{Sid: "EncryptReplicasThroughS3", Effect: "Allow", Action: ReplicaKeyActions,
			Resource: []string{kms(r.ReplicaRegion)},
			Condition: map[string]Condition{
				"StringEquals":             {"kms:ViaService": {r.s3Endpoint(r.ReplicaRegion)}},
				"ForAnyValue:StringEquals": {"kms:ResourceAliases": {ReplicaKeyAlias(r.Stage)}},
			}},
	}}
}

// ReplicaKeyAdminActions are what the account may do to the replica key:
// manage it (CloudFormation creates, rotates, aliases and deletes it), but
// neither use it nor grant its use.
var ReplicaKeyAdminActions = []string{
	"kms:CreateAlias", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
	"kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
	"kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
}

// ReplicaKeyPolicy is the key policy of a stage's replica key in the DR
// Region (r.ReplicaRegion). The account administers it without using it,
// and the replication role encrypts replicas with it, only through S3 in
// that Region. The statement names the account as principal with the
// role's ARN as a condition, so that the key can be made before the role
// exists (the DR stack is deployed first); the role's own IAM policy must
// allow the use as well.
//
// Nobody may decrypt with it: the replicas are unreadable until a failover
// adds a statement for the DR Region's restore path, on purpose. That
// statement should confine each TenantDataAccessRole session to its own
// tenant's replicas (kms:EncryptionContext:aws:s3:arn like
// "<replica bucket>/${aws:PrincipalTag/tenantId}/*", through S3), which
// keeps a restore there as isolated as the backup bucket's prefix
// statement keeps one at home.
func ReplicaKeyPolicy(r ReplicationResources) Policy {
	root := map[string][]string{"AWS": {"arn:" + r.Partition + ":iam::" + r.Account + ":root"}}
	return Policy{Version: "2012-10-17", Statement: []Statement{
		{Sid: "AccountAdministers", Effect: "Allow", Principal: root, Action: ReplicaKeyAdminActions, Resource: []string{"*"}},
		{Sid: "BackupReplicationEncryptsThroughS3", Effect: "Allow", Principal: root, Action: ReplicaKeyActions, Resource: []string{"*"},
			Condition: map[string]Condition{
				"ArnEquals":    {"aws:PrincipalArn": {BackupReplicationRoleARN(r.Partition, r.Account, r.Stage)}},
				"StringEquals": {"kms:ViaService": {r.s3Endpoint(r.ReplicaRegion)}},
			}},
	}}
}
