package access

import (
	"encoding/json"

	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
)

// Names shared by the code, the CDK app and the tests.
const (
	// RoleName is the role every tenant data call runs under.
	RoleName = "TenantDataAccessRole"
	// TenantTag is both the session tag put on assumed sessions and the tag
	// on each tenant's KMS key.
	TenantTag = "tenantId"
	// StageTag is the tag naming the stage on tenant keys, dedicated tables
	// and TenantStack stacks.
	StageTag = "stage"

	principalTenant = "${aws:PrincipalTag/" + TenantTag + "}"
)

// DedicatedTablePrefix prefixes the tables (and TenantStack stacks) of a
// stage's premium tenants: "tessera-<stage>-tenant-". Stage names hold no
// '-' (infra's stage pattern), so no stage's prefix is another's.
func DedicatedTablePrefix(stage string) string { return "tessera-" + stage + "-tenant-" }

// DedicatedTable is the table, and the TenantStack stack, of a premium
// tenant: "tessera-<stage>-tenant-<id>".
func DedicatedTable(stage, tenantID string) string { return DedicatedTablePrefix(stage) + tenantID }

// KeyAliasPrefix prefixes the aliases of a stage's tenant keys:
// "alias/tessera/<stage>/tenant/".
func KeyAliasPrefix(stage string) string { return "alias/tessera/" + stage + "/tenant/" }

// KeyAlias is the alias of a tenant's KMS key:
// "alias/tessera/<stage>/tenant/<id>".
func KeyAlias(stage, tenantID string) string { return KeyAliasPrefix(stage) + tenantID }

// ItemActions are the DynamoDB actions a tenant session may use. The
// transaction APIs have no IAM action of their own: IAM authorizes each item
// of TransactWriteItems / TransactGetItems as the matching item action
// (PutItem, UpdateItem, DeleteItem, ConditionCheckItem, GetItem). Scan and
// PartiQL are absent on purpose and denied explicitly.
var ItemActions = []string{
	"dynamodb:GetItem",
	"dynamodb:BatchGetItem",
	"dynamodb:Query",
	"dynamodb:PutItem",
	"dynamodb:UpdateItem",
	"dynamodb:DeleteItem",
	"dynamodb:BatchWriteItem",
	"dynamodb:ConditionCheckItem",
}

// DeniedActions are denied to tenant sessions on every resource, whatever
// else is attached to the role.
var DeniedActions = []string{
	"dynamodb:Scan",
	"dynamodb:PartiQLSelect",
	"dynamodb:PartiQLInsert",
	"dynamodb:PartiQLUpdate",
	"dynamodb:PartiQLDelete",
	"dynamodb:ExportTableToPointInTime",
}

// KeyActions are the KMS actions a tenant session may use on its own key:
// envelope encryption (internal/platform/crypto) makes data keys and
// decrypts them, and never encrypts with the key itself.
var KeyActions = []string{
	"kms:Decrypt",
	"kms:GenerateDataKey",
}

// Policy is an IAM policy document. Its JSON form is what IAM reads.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one IAM policy statement.
type Statement struct {
	Sid       string               `json:"Sid,omitempty"`
	Effect    string               `json:"Effect"`
	Principal map[string][]string  `json:"Principal,omitempty"`
	Action    []string             `json:"Action"`
	Resource  []string             `json:"Resource,omitempty"`
	Condition map[string]Condition `json:"Condition,omitempty"`
}

// Condition maps condition keys to the values they are compared with, under
// one operator ("StringLike", "ForAllValues:StringLike", "Null", ...).
type Condition map[string][]string

// JSON renders the policy as IAM reads it.
func (p Policy) JSON() []byte {
	b, err := json.Marshal(p)
	if err != nil { // only plain strings and maps: cannot fail
		panic(err)
	}
	return b
}

// Map returns the policy as generic JSON data, the form the CDK's
// PolicyDocument_FromJson takes.
func (p Policy) Map() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(p.JSON(), &m)
	return m
}

// Resources names what the data-access policy applies to. The CDK app passes
// tokens that CloudFormation resolves; tests pass literal ARNs.
type Resources struct {
	// Stage is the deployment's stage ("dev", "prod", "local").
	Stage string
	// PooledTableARN is the ARN of the shared table of pooled tenants.
	PooledTableARN string
	// Partition, Region and Account build the ARNs of dedicated tables and of
	// tenant keys ("aws", "us-east-1", "123456789012").
	Partition, Region, Account string
	// ExportBucketARN is the bucket tenant exports are written to
	// ("arn:aws:s3:::tessera-exports"); a session may touch only the objects
	// under "<its tenantId tag>/". Empty leaves the statement out.
	ExportBucketARN string
	// BackupBucketARN is the bucket of tenant change logs and snapshots
	// ("arn:aws:s3:::tessera-backups"): a session may touch only the
	// objects under "<its tenantId tag>/". Empty leaves the statement out.
	BackupBucketARN string
	// CatalogTableARN is the catalog table, where a session may update
	// the settings attribute of its own tenant's record
	// (OwnTenantSettingsOnly), append to and read its own tenant's audit
	// trail (partition "AUDIT#<its tenantId tag>", OwnAuditTrailOnly), Query
	// its own billing partitions (BillingPartitionPrefixes,
	// OwnBillingRecordsOnly), and nothing else. Empty leaves the statements out.
	CatalogTableARN string
}

// BillingPartitionPrefixes begin the partitions of the catalog table that
// hold a tenant's billing records, each followed by the tenant id: the usage
// ledger with its storage samples and report marks (store.UsagePrefix) and
// the tier history (store.TiersPrefix). The api function reads a tenant's
// invoice inputs there in the tenant's own session.
var BillingPartitionPrefixes = []string{"USAGE#", "TIERS#"}

// BillingReadActions are what a session may do there: Query (the store's
// reads of a partition).
var BillingReadActions = []string{"dynamodb:Query"}

// billingStatement lets a session Query exactly its own tenant's billing
// partitions of the catalog table: every leading key must equal one of
// "<prefix><its tenantId tag>" (StringEquals, so no other tenant id, even
// one that begins with its own, matches).
func billingStatement(r Resources) Statement {
	return ownPartitionsStatement("OwnBillingRecordsOnly", r.CatalogTableARN, BillingReadActions, BillingPartitionPrefixes...)
}

// ownPartitionsStatement allows actions on a table only where every
// leading key of the request equals "<prefix><the session's tenantId
// tag>" for one of prefixes (StringEquals: no other tenant id, not even
// one that begins with the session's own), and only for a request that
// names leading keys, from a tagged session.
func ownPartitionsStatement(sid, tableARN string, actions []string, prefixes ...string) Statement {
	keys := make([]string, len(prefixes))
	for i, p := range prefixes {
		keys[i] = p + principalTenant
	}
	return Statement{
		Sid:      sid,
		Effect:   "Allow",
		Action:   actions,
		Resource: []string{tableARN},
		Condition: map[string]Condition{
			"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": keys},
			// ForAllValues holds for a request without leading keys.
			"Null": {
				"dynamodb:LeadingKeys":          {"false"},
				"aws:PrincipalTag/" + TenantTag: {"false"},
			},
		},
	}
}

// BackupObjectActions are the S3 actions a tenant session may use on its
// own change log and snapshots. Every object is written with its tier tag
// (recovery.TierTag, x-amz-tagging), which S3 authorizes as
// s3:PutObjectTagging as well; the policy lets it set that tag, with a
// tier as its value (BackupTierValues), and no other. There is no s3:DeleteObject: lifecycle rules expire them.
var BackupObjectActions = []string{
	"s3:PutObject",
	"s3:PutObjectTagging",
	"s3:GetObject",
}

// BackupTierValues are the values the tier tag (recovery.TierTag, the one
// object tag a tenant session may set on backup objects) may take: the
// tiers, in plan.Tiers order.
func BackupTierValues() []string {
	out := make([]string, len(plan.Tiers))
	for i, t := range plan.Tiers {
		out[i] = string(t)
	}
	return out
}

// BackupListAction lists a tenant's own prefix of the backup bucket.
const BackupListAction = "s3:ListBucket"

// ExportObjectActions are the S3 actions a tenant session may use on its own
// export objects.
var ExportObjectActions = []string{
	"s3:PutObject",
	"s3:GetObject",
	"s3:AbortMultipartUpload",
}

// DedicatedTableARN is the ARN pattern of the calling tenant's own table in
// this stage.
func (r Resources) DedicatedTableARN() string {
	return "arn:" + r.Partition + ":dynamodb:" + r.Region + ":" + r.Account + ":table/" + DedicatedTablePrefix(r.Stage) + principalTenant
}

// KeysARN matches every KMS key in the account and Region; the tag
// conditions narrow it to the calling tenant's key of this stage.
func (r Resources) KeysARN() string {
	return "arn:" + r.Partition + ":kms:" + r.Region + ":" + r.Account + ":key/*"
}

// DataAccessPolicy is the permission policy of a stage's
// TenantDataAccessRole. A session of that role can touch only items whose
// partition key starts with "<its tenantId tag>#" in the stage's pooled
// table, its own dedicated table of this stage, and its own KMS key of this
// stage (tags tenantId and stage) with its own encryption context.
func DataAccessPolicy(r Resources) Policy {
	p := Policy{
		Version: "2012-10-17",
		Statement: []Statement{
			{
				Sid:      "PooledItemsOfOwnTenantOnly",
				Effect:   "Allow",
				Action:   ItemActions,
				Resource: []string{r.PooledTableARN},
				Condition: map[string]Condition{
					// Every leading key of the request must start with "<tenant>#".
					"ForAllValues:StringLike": {"dynamodb:LeadingKeys": {principalTenant + "#*"}},
					// ForAllValues is true for a request with no leading keys at
					// all; demand that there are some, and that the session is tagged.
					"Null": {
						"dynamodb:LeadingKeys":          {"false"},
						"aws:PrincipalTag/" + TenantTag: {"false"},
					},
				},
			},
			{
				Sid:      "OwnDedicatedTable",
				Effect:   "Allow",
				Action:   ItemActions,
				Resource: []string{r.DedicatedTableARN()},
				Condition: map[string]Condition{
					"Null": {"aws:PrincipalTag/" + TenantTag: {"false"}},
				},
			},
			{
				Sid:      "OwnTenantKeyWithOwnContext",
				Effect:   "Allow",
				Action:   KeyActions,
				Resource: []string{r.KeysARN()},
				Condition: map[string]Condition{
					"StringEquals": {
						"aws:ResourceTag/" + TenantTag:       {principalTenant},
						"aws:ResourceTag/" + StageTag:        {r.Stage},
						"kms:EncryptionContext:" + TenantTag: {principalTenant},
					},
					"Null": {"aws:PrincipalTag/" + TenantTag: {"false"}},
				},
			},
			{
				Sid:      "NoScansOrBulkReads",
				Effect:   "Deny",
				Action:   DeniedActions,
				Resource: []string{"*"},
			},
		},
	}
	if r.CatalogTableARN != "" {
		p.Statement = append(p.Statement, SettingsStatement(r.CatalogTableARN))
	}
	if r.ExportBucketARN != "" {
		p.Statement = append(p.Statement, exportsStatement(r))
	}
	if r.BackupBucketARN != "" {
		p.Statement = append(p.Statement, backupStatements(r)...)
	}
	if r.CatalogTableARN != "" {
		p.Statement = append(p.Statement, ownAuditTrailStatement(r.CatalogTableARN))
		p.Statement = append(p.Statement, AuditImmutableStatements(r.CatalogTableARN)...)
		p.Statement = append(p.Statement, billingStatement(r))
	}
	return p
}

// Names of the tenant record that a session's settings write touches
// (store.TenantData.PutSettings): the key, and the settings attribute.
const (
	CatalogTenantKeyPrefix = "TENANT#"
	SettingsAttribute      = "settings"
)

// SettingsActions are what a session may do to its own tenant record.
var SettingsActions = []string{"dynamodb:UpdateItem"}

// SettingsStatement lets a session update its own tenant's record in the
// catalog table (leading key "TENANT#<its tenantId tag>", exactly), naming
// no attribute but the key and the settings (dynamodb:Attributes), and
// asking for no returned values but the updated ones: an admin's PUT
// /v1/settings cannot change the tier, status, placement or any other
// tenant's record, whatever the code does.
func SettingsStatement(catalogTableARN string) Statement {
	st := ownPartitionsStatement("OwnTenantSettingsOnly", catalogTableARN, SettingsActions, CatalogTenantKeyPrefix)
	st.Condition["ForAllValues:StringEquals"]["dynamodb:Attributes"] = []string{"pk", "sk", SettingsAttribute}
	st.Condition["Null"]["dynamodb:Attributes"] = []string{"false"}
	st.Condition["StringEqualsIfExists"] = Condition{"dynamodb:ReturnValues": {"NONE", "UPDATED_NEW"}}
	return st
}

// AuditPrefix begins the partition key of every tenant's audit trail in
// the catalog table ("AUDIT#<tenant>"; store.AuditPrefix).
const AuditPrefix = "AUDIT#"

// AuditTrailActions are what a tenant session may do with its own audit
// trail: append an entry (a PutItem conditioned on the item's absence) and
// read the trail (Query).
var AuditTrailActions = []string{"dynamodb:PutItem", "dynamodb:Query"}

// AuditDeniedItemActions are the item actions that could change or remove
// an audit entry; AuditImmutableStatements denies them on AUDIT# items.
var AuditDeniedItemActions = []string{"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}

// AuditDeniedPartiQL are PartiQL's writes, denied on the whole catalog
// table: nothing uses PartiQL, and its requests do not name leading keys
// the way item actions do.
var AuditDeniedPartiQL = []string{"dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"}

// ownAuditTrailStatement lets a session append to and read the audit trail
// of its own tenant, and no other item of the catalog table.
func ownAuditTrailStatement(catalogARN string) Statement {
	return ownPartitionsStatement("OwnAuditTrailOnly", catalogARN, AuditTrailActions, AuditPrefix)
}

// AuditImmutableStatements deny, whatever else a role is allowed, every
// update and delete of an audit entry of the catalog table (any item whose
// leading key starts with AuditPrefix) and PartiQL writes on the table.
// The infra app attaches them to every function role with catalog write
// access; DataAccessPolicy includes them. PutItem stays allowed where a
// role has it: IAM has no condition key for a request's condition
// expression, so it cannot deny an overwrite; the store conditions every
// entry on its absence (the residual gap the README names).
func AuditImmutableStatements(catalogARN string) []Statement {
	return []Statement{
		{
			Sid:       "AuditEntriesAreImmutable",
			Effect:    "Deny",
			Action:    AuditDeniedItemActions,
			Resource:  []string{catalogARN},
			Condition: map[string]Condition{"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": {AuditPrefix + "*"}}},
		},
		{
			Sid:      "NoPartiQLWritesOnCatalog",
			Effect:   "Deny",
			Action:   AuditDeniedPartiQL,
			Resource: []string{catalogARN},
		},
	}
}

// backupStatements let a session write (with the tier tag), and read, the
// objects under its own tenant's prefix of the backup bucket (change log
// and snapshots), and list that prefix only.
func backupStatements(r Resources) []Statement {
	tagged := map[string][]string{"aws:PrincipalTag/" + TenantTag: {"false"}}
	return []Statement{
		{
			Sid:       "OwnBackupObjectsOnly",
			Effect:    "Allow",
			Action:    BackupObjectActions,
			Resource:  []string{r.BackupBucketARN + "/" + principalTenant + "/*"},
			Condition: map[string]Condition{"Null": tagged},
		},
		{
			// Only the tier tag, and only a tier as its value, on any
			// upload or retagging. Both are denials that hold only when
			// the request carries tags: an untagged upload is not
			// refused here (the catch-all lifecycle rule expires it).
			Sid:       "BackupTagsAreTierTagsOnly",
			Effect:    "Deny",
			Action:    []string{"s3:PutObject", "s3:PutObjectTagging"},
			Resource:  []string{r.BackupBucketARN + "/*"},
			Condition: map[string]Condition{"ForAnyValue:StringNotEquals": {"s3:RequestObjectTagKeys": {recovery.TierTag}}},
		},
		{
			Sid:      "BackupTierTagIsATier",
			Effect:   "Deny",
			Action:   []string{"s3:PutObject", "s3:PutObjectTagging"},
			Resource: []string{r.BackupBucketARN + "/*"},
			Condition: map[string]Condition{
				"StringNotEquals": {"s3:RequestObjectTag/" + recovery.TierTag: BackupTierValues()},
				"Null":            {"s3:RequestObjectTag/" + recovery.TierTag: {"false"}},
			},
		},
		{
			Sid:      "ListOwnBackupPrefixOnly",
			Effect:   "Allow",
			Action:   []string{BackupListAction},
			Resource: []string{r.BackupBucketARN},
			Condition: map[string]Condition{
				"StringLike": {"s3:prefix": {principalTenant + "/*"}},
				"Null":       tagged,
			},
		},
	}
}

// exportsStatement lets a session write and read the objects under its own
// tenant's prefix of the export bucket, and nothing else in it.
func exportsStatement(r Resources) Statement {
	return Statement{
		Sid:      "OwnExportObjectsOnly",
		Effect:   "Allow",
		Action:   ExportObjectActions,
		Resource: []string{r.ExportBucketARN + "/" + principalTenant + "/*"},
		Condition: map[string]Condition{
			"Null": {"aws:PrincipalTag/" + TenantTag: {"false"}},
		},
	}
}

// PrefixedItemsStatement allows actions on those items of a table whose
// every leading (partition) key begins with prefix, and on no other item.
// It confines a function role's own writes to a table it shares with other
// data: the api function writes the usage ledger (prefix "USAGE#") to the
// catalog table and nothing else there. Prefix must hold no IAM wildcard.
func PrefixedItemsStatement(sid, tableARN, prefix string, actions ...string) Statement {
	return Statement{
		Sid:      sid,
		Effect:   "Allow",
		Action:   actions,
		Resource: []string{tableARN},
		Condition: map[string]Condition{
			"ForAllValues:StringLike": {"dynamodb:LeadingKeys": {prefix + "*"}},
			// ForAllValues holds for a request without leading keys.
			"Null": {"dynamodb:LeadingKeys": {"false"}},
		},
	}
}

// PartitionStatement allows actions on the items of one partition of a
// table (every leading key equal to pk), and on no other item: the
// functions that evaluate feature flags Query the catalog's flag
// definitions (pk "FLAGS") and nothing else there.
func PartitionStatement(sid, tableARN, pk string, actions ...string) Statement {
	return Statement{
		Sid:      sid,
		Effect:   "Allow",
		Action:   actions,
		Resource: []string{tableARN},
		Condition: map[string]Condition{
			"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": {pk}},
			// ForAllValues holds for a request without leading keys.
			"Null": {"dynamodb:LeadingKeys": {"false"}},
		},
	}
}

// TrustPolicy is the trust policy of TenantDataAccessRole: only the given
// principals (the function roles) may assume it, only with a tenantId session
// tag, and with no other tags.
func TrustPolicy(principalARNs []string) Policy {
	return Policy{
		Version: "2012-10-17",
		Statement: []Statement{{
			Sid:       "AssumeWithTenantTagOnly",
			Effect:    "Allow",
			Principal: map[string][]string{"AWS": principalARNs},
			Action:    []string{"sts:AssumeRole", "sts:TagSession"},
			Condition: map[string]Condition{
				"StringLike":                {"aws:RequestTag/" + TenantTag: {"?*"}},
				"ForAllValues:StringEquals": {"aws:TagKeys": {TenantTag}},
			},
		}},
	}
}

// KeyPolicyParams names the principals of a tenant key's policy.
type KeyPolicyParams struct {
	// Stage is the deployment's stage.
	Stage              string
	Partition, Account string
	// Region is the key's Region: DynamoDB may make itself grants on the
	// key only through its endpoint there. Empty accepts DynamoDB's
	// endpoint in any Region of the partition (a key serves only tables of
	// its own Region anyway).
	Region   string
	TenantID string
	// DataAccessRoleARN is TenantDataAccessRole's ARN.
	DataAccessRoleARN string
	// AdminRoleARN is the role that manages tenant keys (the provisioner's).
	AdminRoleARN string
}

// TenantKeyPolicy is the key policy of one tenant's customer managed key:
// the account keeps administrative control (so the key can never become
// unmanageable), but not of its tags, which IAM conditions trust; the
// provisioner may manage it (alias, disable, schedule deletion), set its two
// tags to this tenant and stage (and to nothing else), and let DynamoDB make
// itself a grant for the tenant's dedicated table (the CloudFormation stack
// that creates the table runs with the provisioner's credentials); and only
// TenantDataAccessRole sessions tagged with this tenant may use it, and only
// with encryption context tenantId=<this tenant> (and for replication of
// the backup bucket, S3 may decrypt with it on behalf of the replication
// role: BackupReplicationDecryptsThroughS3).
//
// The provisioner's rights come from this policy, which it sets at
// CreateKey, not from its IAM policy: its IAM policy grants key management
// only on keys that already carry this stage's tenant alias and stage tag,
// and no tagging at all, so it cannot make a foreign key look like a tenant
// key.
func TenantKeyPolicy(p KeyPolicyParams) Policy {
	root := "arn:" + p.Partition + ":iam::" + p.Account + ":root"
	return Policy{
		Version: "2012-10-17",
		Statement: []Statement{
			{
				Sid:       "AccountAdministers",
				Effect:    "Allow",
				Principal: map[string][]string{"AWS": {root}},
				Action: []string{
					"kms:Describe*", "kms:Get*", "kms:List*", "kms:PutKeyPolicy",
					"kms:EnableKey", "kms:DisableKey",
					"kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias",
				},
				Resource: []string{"*"},
			},
			{
				Sid:       "ProvisionerManagesLifecycle",
				Effect:    "Allow",
				Principal: map[string][]string{"AWS": {p.AdminRoleARN}},
				Action: []string{
					"kms:DescribeKey", "kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:CreateAlias",
				},
				Resource: []string{"*"},
			},
			{
				// The key is created untagged (tags on CreateKey would need
				// kms:TagResource in an IAM policy on every key) and tagged
				// by the provisioner right after, through this statement:
				// tenantId and stage, with these values, nothing else.
				Sid:       "ProvisionerTagsTenantAndStage",
				Effect:    "Allow",
				Principal: map[string][]string{"AWS": {p.AdminRoleARN}},
				Action:    []string{"kms:TagResource"},
				Resource:  []string{"*"},
				Condition: map[string]Condition{
					"StringEquals": {
						"aws:RequestTag/" + TenantTag: {p.TenantID},
						"aws:RequestTag/" + StageTag:  {p.Stage},
					},
					"ForAllValues:StringEquals": {"aws:TagKeys": {TenantTag, StageTag}},
				},
			},
			{
				// A premium tenant's dedicated table is encrypted with this
				// key: CloudFormation creates it with the provisioner's
				// credentials, and DynamoDB then makes itself a grant on the
				// key. Only through DynamoDB, only for an AWS resource.
				Sid:       "DedicatedTableUsesKeyThroughDynamoDB",
				Effect:    "Allow",
				Principal: map[string][]string{"AWS": {p.AdminRoleARN}},
				Action:    []string{"kms:CreateGrant"},
				Resource:  []string{"*"},
				Condition: map[string]Condition{
					"Bool":       {"kms:GrantIsForAWSResource": {"true"}},
					"StringLike": {"kms:ViaService": {p.DynamoDBEndpoint()}},
				},
			},
			{
				// The backup bucket is replicated to the DR Region
				// (BackupReplicationPolicy): S3 reads each replicated
				// object with the replication role, which must decrypt
				// it. Decrypt only, only through S3 in the key's Region,
				// only with this tenant's encryption context, and only
				// for that one role. The account is the principal, so
				// the role's own IAM policy must allow it too, and the
				// statement is valid before the role exists (and in a
				// stage without DR, where it never does).
				Sid:       "BackupReplicationDecryptsThroughS3",
				Effect:    "Allow",
				Principal: map[string][]string{"AWS": {root}},
				Action:    []string{"kms:Decrypt"},
				Resource:  []string{"*"},
				Condition: map[string]Condition{
					"ArnEquals":  {"aws:PrincipalArn": {BackupReplicationRoleARN(p.Partition, p.Account, p.Stage)}},
					"StringLike": {"kms:ViaService": {p.S3Endpoint()}},
					"StringEquals": {
						"kms:EncryptionContext:" + TenantTag: {p.TenantID},
					},
				},
			},
			{
				Sid:       "OnlyThisTenantsSessionsUseKey",
				Effect:    "Allow",
				Principal: map[string][]string{"AWS": {p.DataAccessRoleARN}},
				Action:    KeyActions,
				Resource:  []string{"*"},
				Condition: map[string]Condition{
					"StringEquals": {
						"aws:PrincipalTag/" + TenantTag:      {p.TenantID},
						"kms:EncryptionContext:" + TenantTag: {p.TenantID},
					},
				},
			},
		},
	}
}

// KeyTags are the tags of tenantID's key in stage, which the provisioner
// sets through the key policy's ProvisionerTagsTenantAndStage statement.
func KeyTags(stage, tenantID string) map[string]string {
	return map[string]string{TenantTag: tenantID, StageTag: stage}
}

// DynamoDBEndpoint is the kms:ViaService value of DynamoDB calling KMS on
// the key's behalf: "dynamodb.<region>.<partition's domain>", with "*" for
// the Region when Region is empty.
func (p KeyPolicyParams) DynamoDBEndpoint() string {
	region := p.Region
	if region == "" {
		region = "*"
	}
	return "dynamodb." + region + "." + domainOf(p.Partition)
}

// S3Endpoint is the kms:ViaService value of S3 calling KMS on the key's
// behalf: "s3.<region>.<partition's domain>", with "*" for the Region when
// Region is empty.
func (p KeyPolicyParams) S3Endpoint() string {
	region := p.Region
	if region == "" {
		region = "*"
	}
	return "s3." + region + "." + domainOf(p.Partition)
}

// domainOf is the DNS suffix of the service endpoints of an AWS partition.
func domainOf(partition string) string {
	switch partition {
	case "aws-cn":
		return "amazonaws.com.cn"
	case "aws-iso":
		return "c2s.ic.gov"
	case "aws-iso-b":
		return "sc2s.sgov.gov"
	default:
		return "amazonaws.com"
	}
}
