package access_test

import (
	"encoding/json"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/access/iamsim"
)

// Two stages, dev and prod, share one account. These cases give the dev
// stage's roles (TenantDataAccessRole-dev, with a session tagged with a
// prod tenant's id, and dev's provisioner) every prod resource of that
// tenant, named as prod names them, and want every request denied; and
// the same requests on dev's own resources allowed, so that the denials
// are the stage's doing.

const (
	devStage, prodStage = "dev", "prod"
	stageTenant         = "t-shared"
	prodKeyARN          = "arn:aws:kms:us-east-1:" + simAccount + ":key/3333cccc-0000-0000-0000-00000000prod"
	devKeyARN           = "arn:aws:kms:us-east-1:" + simAccount + ":key/4444dddd-0000-0000-0000-000000000dev"
)

func dataRoleARN(stage string) string {
	return "arn:aws:iam::" + simAccount + ":role/" + access.RoleName + "-" + stage
}

func provisionerRoleARN(stage string) string {
	return "arn:aws:iam::" + simAccount + ":role/Tessera-" + stage + "-ProvisionerFunctionRole"
}

func provisionerSession(stage string) string {
	return "arn:aws:sts::" + simAccount + ":assumed-role/Tessera-" + stage + "-ProvisionerFunctionRole/provisioner"
}

func dataSession(stage string) string {
	return "arn:aws:sts::" + simAccount + ":assumed-role/" + access.RoleName + "-" + stage + "/" + stageTenant
}

func stageResources(stage string) access.Resources {
	return access.Resources{
		Stage:           stage,
		PooledTableARN:  "arn:aws:dynamodb:us-east-1:" + simAccount + ":table/Tessera-" + stage + "-Data-PooledTable",
		Partition:       "aws",
		Region:          "us-east-1",
		Account:         simAccount,
		ExportBucketARN: "arn:aws:s3:::tessera-" + stage + "-exports",
	}
}

func provisionerPolicy(stage string) access.Policy {
	return access.ProvisionerPolicy(access.ProvisionerResources{
		Stage: stage, Partition: "aws", Region: "us-east-1", Account: simAccount, URLSuffix: "amazonaws.com",
	})
}

// stageKeyPolicy is the key policy stage's provisioner gives stageTenant's key.
func stageKeyPolicy(stage string) json.RawMessage {
	return access.TenantKeyPolicy(access.KeyPolicyParams{
		Stage: stage, Partition: "aws", Account: simAccount, Region: "us-east-1", TenantID: stageTenant,
		DataAccessRoleARN: dataRoleARN(stage), AdminRoleARN: provisionerRoleARN(stage),
	}).JSON()
}

// stageKey is the context of requests on stage's key of stageTenant: its
// tags and its alias, as the provisioner of that stage makes them.
func stageKey(stage string, extra map[string]any) map[string]any {
	ctx := map[string]any{
		"aws:ResourceTag/" + access.TenantTag: stageTenant,
		"aws:ResourceTag/" + access.StageTag:  stage,
		"kms:ResourceAliases":                 []string{access.KeyAlias(stage, stageTenant)},
	}
	for k, v := range extra {
		ctx[k] = v
	}
	return ctx
}

func arnOf(service, resource string) string {
	return "arn:aws:" + service + ":us-east-1:" + simAccount + ":" + resource
}

// stageCase is one request of a dev role on stage's resource.
type stageCase struct {
	name      string
	principal string
	policy    access.Policy
	keyPolicy json.RawMessage
	action    string
	resource  string
	context   map[string]any
}

// stageCases are dev's requests on stage's resources.
func stageCases(stage string) []stageCase {
	devData := access.DataAccessPolicy(stageResources(devStage))
	devProv := provisionerPolicy(devStage)
	table := arnOf("dynamodb", "table/"+access.DedicatedTable(stage, stageTenant))
	stack := arnOf("cloudformation", "stack/"+access.DedicatedTable(stage, stageTenant)+"/0a1b2c3d-0000-0000-0000-000000000000")
	alias := arnOf("kms", access.KeyAlias(stage, stageTenant))
	key := devKeyARN
	if stage == prodStage {
		key = prodKeyARN
	}
	tagged := map[string]any{"aws:PrincipalTag/" + access.TenantTag: stageTenant}
	withTenant := func(m map[string]any) map[string]any {
		for k, v := range tagged {
			m[k] = v
		}
		return m
	}
	var cases []stageCase
	data := func(name, action, resource string, keyPol json.RawMessage, ctx map[string]any) {
		cases = append(cases, stageCase{name: "data-role/" + name, principal: dataSession(devStage), policy: devData,
			keyPolicy: keyPol, action: action, resource: resource, context: withTenant(ctx)})
	}
	for _, a := range []string{"GetItem", "Query", "PutItem", "DeleteItem"} {
		data("dedicated-table/"+a, "dynamodb:"+a, table, nil, map[string]any{})
	}
	for _, a := range []string{"Decrypt", "GenerateDataKey"} {
		ctx := func() map[string]any {
			return stageKey(stage, map[string]any{"kms:EncryptionContext:" + access.TenantTag: stageTenant})
		}
		// With the key's real policy, and with one that leaves it all to
		// IAM (the role's own policy is then the only guard).
		data("key/"+a, "kms:"+a, key, stageKeyPolicy(stage), ctx())
		data("key-iam-only/"+a, "kms:"+a, key, iamKeyPolicy, ctx())
	}

	prov := func(name, action, resource string, keyPol json.RawMessage, ctx map[string]any) {
		cases = append(cases, stageCase{name: "provisioner/" + name, principal: provisionerSession(devStage), policy: devProv,
			keyPolicy: keyPol, action: action, resource: resource, context: ctx})
	}
	for _, a := range []string{"DeleteTable", "UpdateTable", "DescribeTable", "CreateTable"} {
		prov("dedicated-table/"+a, "dynamodb:"+a, table, nil, map[string]any{})
	}
	for _, a := range []string{"DeleteStack", "DescribeStacks"} {
		prov("stack/"+a, "cloudformation:"+a, stack, nil, map[string]any{})
	}
	for _, a := range []string{"DisableKey", "ScheduleKeyDeletion", "Decrypt", "DescribeKey", "CreateAlias"} {
		prov("key/"+a, "kms:"+a, key, stageKeyPolicy(stage), stageKey(stage, nil))
		prov("key-iam-only/"+a, "kms:"+a, key, iamKeyPolicy, stageKey(stage, nil))
	}
	tags := map[string]any{
		"aws:RequestTag/" + access.TenantTag: stageTenant,
		"aws:RequestTag/" + access.StageTag:  devStage,
		"aws:TagKeys":                        []string{access.TenantTag, access.StageTag},
	}
	prov("key/TagResource", "kms:TagResource", key, stageKeyPolicy(stage), stageKey(stage, tags))
	prov("key-iam-only/TagResource", "kms:TagResource", key, iamKeyPolicy, stageKey(stage, tags))
	prov("key/TagResource-tenant-only", "kms:TagResource", key, iamKeyPolicy, stageKey(stage, map[string]any{
		"aws:RequestTag/" + access.TenantTag: stageTenant, "aws:TagKeys": []string{access.TenantTag}}))
	grant := map[string]any{"kms:GrantIsForAWSResource": "true", "kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}
	prov("key/CreateGrant", "kms:CreateGrant", key, iamKeyPolicy, stageKey(stage, grant))
	for _, a := range []string{"CreateAlias", "DeleteAlias"} {
		prov("alias/"+a, "kms:"+a, alias, nil, map[string]any{})
	}
	return cases
}

func runStageCases(t *testing.T, cases []stageCase, want string) {
	t.Helper()
	reqs := make([]iamsim.Request, len(cases))
	wants := make([]string, len(cases))
	for i, c := range cases {
		reqs[i] = iamsim.Request{Name: c.name, IdentityPolicies: []json.RawMessage{c.policy.JSON()}, ResourcePolicy: c.keyPolicy,
			Principal: c.principal, Action: c.action, Resource: c.resource, AccountID: simAccount, Context: c.context}
		wants[i] = want
	}
	results, err := iamsim.Run(iamsim.Script(t), reqs)
	if err != nil {
		t.Fatal(err)
	}
	iamsim.Check(t, reqs, results, wants)
}

// TestSimDevStageDeniedProd: dev's data-access role, in a session tagged
// with a prod tenant's id, and dev's provisioner reach none of prod's
// resources of that tenant: dedicated table, stack, key, alias.
func TestSimDevStageDeniedProd(t *testing.T) {
	runStageCases(t, stageCases(prodStage), iamsim.ImplicitlyDenied)
}

// TestSimDevStageOwnResources: the same requests on dev's own resources
// are allowed, but for those no role of any stage may make (the
// provisioner decrypting, tags not from the key's own policy, ...).
func TestSimDevStageOwnResources(t *testing.T) {
	var allowedCases, deniedCases []stageCase
	for _, c := range stageCases(devStage) {
		switch c.name {
		case "provisioner/key/Decrypt", "provisioner/key-iam-only/Decrypt",
			"provisioner/key-iam-only/TagResource", "provisioner/key/TagResource-tenant-only",
			// The key side of CreateAlias comes from the key's own policy.
			"provisioner/key-iam-only/CreateAlias",
			// Nothing deletes an alias: Retire keeps it (tenantkey.Retire).
			"provisioner/alias/DeleteAlias":
			deniedCases = append(deniedCases, c)
		default:
			allowedCases = append(allowedCases, c)
		}
	}
	t.Run("allowed", func(t *testing.T) { runStageCases(t, allowedCases, iamsim.Allowed) })
	t.Run("denied", func(t *testing.T) { runStageCases(t, deniedCases, iamsim.ImplicitlyDenied) })
}
