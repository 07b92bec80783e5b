package access

// ProvisionerResources names what the provisioner's control-plane policy
// applies to. The CDK app passes tokens that CloudFormation resolves; tests
// pass literal values.
type ProvisionerResources struct {
	// Stage is the deployment's stage.
	Stage string
	// Partition, Region and Account build the ARNs ("aws", "us-east-1",
	// "123456789012"); URLSuffix is the partition's DNS suffix
	// ("amazonaws.com").
	Partition, Region, Account, URLSuffix string
}

func (r ProvisionerResources) arn(service, resource string) string {
	return "arn:" + r.Partition + ":" + service + ":" + r.Region + ":" + r.Account + ":" + resource
}

// TenantKeyActions are what the provisioner's IAM policy lets it do to
// existing tenant keys of its stage. Aliasing a new key and tagging it come
// from the key's own policy (TenantKeyPolicy), as do these for the keys it
// created; no PutKeyPolicy, no tagging, no alias deletion.
var TenantKeyActions = []string{"kms:DescribeKey", "kms:DisableKey", "kms:ScheduleKeyDeletion"}

// TenantTableControlActions are the DynamoDB control-plane actions
// CloudFormation performs with the provisioner's credentials when it creates,
// tags or deletes a TenantStack table. None reads or writes an item.
var TenantTableControlActions = []string{
	"dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:UpdateTable", "dynamodb:DeleteTable",
	"dynamodb:UpdateContinuousBackups", "dynamodb:DescribeContinuousBackups",
	"dynamodb:TagResource", "dynamodb:UntagResource", "dynamodb:ListTagsOfResource",
}

// TenantAlarmActions are what CloudFormation does with the provisioner's
// (and the fleet runner's) credentials to the alarms of a TenantStack
// (template version 2: throttled reads and writes of the dedicated table,
// named after it). DescribeAlarms takes no resource (TenantAlarmReads).
var TenantAlarmActions = []string{
	"cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms",
	"cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource",
}

// TenantAlarmReads list alarms (no resource-level permission exists).
var TenantAlarmReads = []string{"cloudwatch:DescribeAlarms"}

// TenantAlarms is the ARN pattern of a stage's TenantStack alarms.
func (r ProvisionerResources) TenantAlarms() string {
	return r.arn("cloudwatch", "alarm:"+DedicatedTablePrefix(r.Stage)+"*")
}

// TenantStackCreateActions create TenantStack stacks. CreateStack passes
// stack tags, hence TagResource.
var TenantStackCreateActions = []string{"cloudformation:CreateStack", "cloudformation:TagResource"}

// TenantStackActions are the provisioner's other CloudFormation actions on
// TenantStack stacks.
var TenantStackActions = []string{"cloudformation:DescribeStacks", "cloudformation:DeleteStack"}

// ProvisionerPolicy is the provisioner role's control-plane policy in one
// stage: tenant keys (KMS API), TenantStack stacks, and the tables
// CloudFormation creates for them with the provisioner's credentials. Every
// resource pattern and condition carries the stage, so one stage's
// provisioner reaches no other stage's tenants in the same account.
//
// Key management is keyed on what the provisioner cannot forge: the key's
// aliases (kms:ResourceAliases; only the provisioner and the account's
// administrators create aliases under alias/tessera/<stage>/tenant/, and
// the alias side of CreateAlias is the one thing it may create there) and
// the stage tag, which it cannot write on any key its IAM policy covers (it
// holds no kms:TagResource: a tenant key's own policy lets it set that
// key's tags).
func ProvisionerPolicy(r ProvisionerResources) Policy {
	keys := r.arn("kms", "key/*")
	aliases := KeyAliasPrefix(r.Stage) + "*"
	// Keys that carry a tenant alias of this stage, only such aliases, and
	// this stage's tag. (ForAllValues alone holds for a key without aliases.)
	tenantKey := func(extra map[string]Condition) map[string]Condition {
		c := map[string]Condition{
			"ForAnyValue:StringLike":  {"kms:ResourceAliases": {aliases}},
			"ForAllValues:StringLike": {"kms:ResourceAliases": {aliases}},
			"StringEquals":            {"aws:ResourceTag/" + StageTag: {r.Stage}},
		}
		for op, kv := range extra {
			if c[op] == nil {
				c[op] = Condition{}
			}
			for k, v := range kv {
				c[op][k] = v
			}
		}
		return c
	}
	stacks := r.arn("cloudformation", "stack/"+DedicatedTablePrefix(r.Stage)+"*/*")
	return Policy{Version: "2012-10-17", Statement: []Statement{
		// New keys, untagged (see TenantKeyPolicy). CreateKey has no
		// resource.
		{Sid: "CreateTenantKeys", Effect: "Allow", Action: []string{"kms:CreateKey"}, Resource: []string{"*"},
			Condition: map[string]Condition{
				"StringEquals": {"kms:KeySpec": {"SYMMETRIC_DEFAULT"}, "kms:KeyUsage": {"ENCRYPT_DECRYPT"}},
			}},
		// The alias side of CreateAlias: this stage's tenant aliases. The
		// key side comes from the new key's own policy.
		{Sid: "TenantKeyAliases", Effect: "Allow", Action: []string{"kms:CreateAlias"},
			Resource: []string{r.arn("kms", aliases)}},
		{Sid: "ManageTenantKeys", Effect: "Allow", Action: TenantKeyActions, Resource: []string{keys}, Condition: tenantKey(nil)},
		// CloudFormation creates a dedicated table with the provisioner's
		// credentials; DynamoDB then makes a grant on the tenant key for
		// itself. Only DynamoDB, only for an AWS resource, only this
		// stage's tenant keys.
		{Sid: "TenantTableKeyGrants", Effect: "Allow", Action: []string{"kms:CreateGrant"}, Resource: []string{keys},
			Condition: tenantKey(map[string]Condition{
				"StringEquals": {"kms:ViaService": {"dynamodb." + r.Region + "." + r.URLSuffix}},
				"Bool":         {"kms:GrantIsForAWSResource": {"true"}},
			})},
		// TenantStack stacks (named DedicatedTable(stage, id)): created
		// only with the tags tenantId and stage=<this stage>.
		{Sid: "CreateTenantStacks", Effect: "Allow", Action: TenantStackCreateActions, Resource: []string{stacks},
			Condition: map[string]Condition{
				"StringEquals":              {"aws:RequestTag/" + StageTag: {r.Stage}},
				"StringLike":                {"aws:RequestTag/" + TenantTag: {"?*"}},
				"ForAllValues:StringEquals": {"aws:TagKeys": {TenantTag, StageTag}},
			}},
		{Sid: "TenantStacks", Effect: "Allow", Action: TenantStackActions, Resource: []string{stacks}},
		{Sid: "TenantTablesControlPlane", Effect: "Allow", Action: TenantTableControlActions,
			Resource: []string{r.arn("dynamodb", "table/"+DedicatedTablePrefix(r.Stage)+"*")}},
		{Sid: "TenantStackAlarms", Effect: "Allow", Action: TenantAlarmActions, Resource: []string{r.TenantAlarms()}},
		{Sid: "TenantStackAlarmReads", Effect: "Allow", Action: TenantAlarmReads, Resource: []string{"*"}},
	}}
}
