package access_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/access/iamsim"
)

// These tests evaluate the real TenantDataAccessRole policy with an
// independent IAM policy simulator (@cloud-copilot/iam-simulate, run by
// tools/iamsim/simulate.mjs, through package iamsim), since no local emulator evaluates IAM
// conditions. All cases go to one node process.

const (
	simAccount = "123456789012"
	pooledARN  = "arn:aws:dynamodb:us-east-1:" + simAccount + ":table/tessera-pooled"
	tableARN   = "arn:aws:dynamodb:us-east-1:" + simAccount + ":table/"
	keyABARN   = "arn:aws:kms:us-east-1:" + simAccount + ":key/1111aaaa-0000-0000-0000-0000000000ab"
	keyCDARN   = "arn:aws:kms:us-east-1:" + simAccount + ":key/2222bbbb-0000-0000-0000-0000000000cd"
	sessionARN = "arn:aws:sts::" + simAccount + ":assumed-role/" + access.RoleName + "/tenant-session"
	roleARN    = "arn:aws:iam::" + simAccount + ":role/" + access.RoleName

	allowed  = iamsim.Allowed
	implicit = iamsim.ImplicitlyDenied
	explicit = iamsim.ExplicitlyDenied
)

var simResources = access.Resources{
	Stage:           devStage,
	PooledTableARN:  pooledARN,
	Partition:       "aws",
	Region:          "us-east-1",
	Account:         simAccount,
	ExportBucketARN: exportBucketARN,
}

// exportBucketARN is the bucket of tenant exports.
const exportBucketARN = "arn:aws:s3:::tessera-exports"

// simCase is a request by a tenant session and the decision IAM must reach.
type simCase struct {
	name     string
	policy   access.Policy   // identity policy; the real one unless set
	keyPol   json.RawMessage // KMS key policy; one that defers to IAM unless set
	action   string
	resource string
	context  map[string]any
	want     string
	// wantSid is the statement that must decide (allow or explicit deny).
	wantSid string
	// principal is a session of another role than TenantDataAccessRole,
	// whose identity policy allows the action on any resource: the
	// resource policy alone decides.
	principal string
}

// tenant returns the context of a session tagged tenantId=id plus extra keys.
func tenant(id string, extra map[string]any) map[string]any {
	ctx := map[string]any{"aws:PrincipalTag/" + access.TenantTag: id}
	for k, v := range extra {
		ctx[k] = v
	}
	return ctx
}

func leading(keys ...string) map[string]any {
	return map[string]any{"dynamodb:LeadingKeys": keys}
}

// kmsCtx is a request on a key of this stage tagged tenantId=keyTag, with
// encryption context tenantId=ctxTenant (none when empty).
func kmsCtx(keyTag, ctxTenant string) map[string]any {
	m := map[string]any{"aws:ResourceTag/" + access.TenantTag: keyTag, "aws:ResourceTag/" + access.StageTag: devStage}
	if ctxTenant != "" {
		m["kms:EncryptionContext:"+access.TenantTag] = ctxTenant
	}
	return m
}

// iamKeyPolicy is the default key policy: the account's IAM policies decide.
var iamKeyPolicy = json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Sid":"EnableIAMPolicies",
	"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + simAccount + `:root"},"Action":"kms:*","Resource":"*"}]}`)

func simCases() []simCase {
	var cases []simCase
	add := func(c simCase) { cases = append(cases, c) }

	// Pooled table: every item action with the tenant's own leading key.
	for _, a := range []string{"GetItem", "PutItem", "Query", "UpdateItem", "DeleteItem", "ConditionCheckItem"} {
		add(simCase{name: "pooled/own/" + a, action: "dynamodb:" + a, resource: pooledARN,
			context: tenant("ab", leading("ab#PRODUCT")), want: allowed, wantSid: "PooledItemsOfOwnTenantOnly"})
	}
	// ... and denied any key that is not "ab#...".
	for _, k := range []string{"a#PRODUCT", "abc#PRODUCT", "ab", "ab*", "xab#P", "cd#PRODUCT"} {
		for _, a := range []string{"GetItem", "Query", "PutItem"} {
			add(simCase{name: "pooled/foreign/" + a + "/" + k, action: "dynamodb:" + a, resource: pooledARN,
				context: tenant("ab", leading(k)), want: implicit})
		}
	}
	for _, a := range []string{"BatchGetItem", "BatchWriteItem"} {
		add(simCase{name: "pooled/batch/own/" + a, action: "dynamodb:" + a, resource: pooledARN,
			context: tenant("ab", leading("ab#PRODUCT", "ab#ORDER")), want: allowed, wantSid: "PooledItemsOfOwnTenantOnly"})
		add(simCase{name: "pooled/batch/one-foreign/" + a, action: "dynamodb:" + a, resource: pooledARN,
			context: tenant("ab", leading("ab#PRODUCT", "cd#PRODUCT")), want: implicit})
	}
	for _, a := range []string{"Query", "GetItem", "BatchGetItem"} {
		add(simCase{name: "pooled/no-leading-keys/" + a, action: "dynamodb:" + a, resource: pooledARN,
			context: tenant("ab", nil), want: implicit})
	}
	for _, res := range []string{pooledARN, tableARN + access.DedicatedTable(devStage, "ab")} {
		add(simCase{name: "scan/" + res[strings.LastIndex(res, "/")+1:], action: "dynamodb:Scan", resource: res,
			context: tenant("ab", nil), want: explicit, wantSid: "NoScansOrBulkReads"})
	}
	add(simCase{name: "partiql/select", action: "dynamodb:PartiQLSelect", resource: pooledARN,
		context: tenant("ab", nil), want: explicit, wantSid: "NoScansOrBulkReads"})

	// The Null guard is load-bearing: without "dynamodb:LeadingKeys" under
	// Null, ForAllValues holds for a request with no leading keys.
	unguarded := access.DataAccessPolicy(simResources)
	delete(unguarded.Statement[0].Condition["Null"], "dynamodb:LeadingKeys")
	add(simCase{name: "unguarded-policy/no-leading-keys/Query", policy: unguarded, action: "dynamodb:Query",
		resource: pooledARN, context: tenant("ab", nil), want: allowed, wantSid: "PooledItemsOfOwnTenantOnly"})
	add(simCase{name: "unguarded-policy/foreign-key/Query", policy: unguarded, action: "dynamodb:Query",
		resource: pooledARN, context: tenant("ab", leading("cd#PRODUCT")), want: implicit})

	// Dedicated tables.
	for _, a := range []string{"GetItem", "Query", "PutItem", "BatchWriteItem"} {
		add(simCase{name: "dedicated/own/" + a, action: "dynamodb:" + a, resource: tableARN + access.DedicatedTable(devStage, "ab"),
			context: tenant("ab", nil), want: allowed, wantSid: "OwnDedicatedTable"})
		for _, other := range []string{"cd", "abc", "a"} {
			add(simCase{name: "dedicated/other/" + other + "/" + a, action: "dynamodb:" + a,
				resource: tableARN + access.DedicatedTable(devStage, other), context: tenant("ab", nil), want: implicit})
		}
	}
	// No index access is granted (the store queries no index).
	add(simCase{name: "dedicated/own-index/Query", action: "dynamodb:Query",
		resource: tableARN + access.DedicatedTable(devStage, "ab") + "/index/gsi1", context: tenant("ab", nil), want: implicit})

	// KMS: own key and own context only.
	for _, a := range []string{"GenerateDataKey", "Decrypt"} {
		add(simCase{name: "kms/own/" + a, action: "kms:" + a, resource: keyABARN,
			context: tenant("ab", kmsCtx("ab", "ab")), want: allowed, wantSid: "OwnTenantKeyWithOwnContext"})
		add(simCase{name: "kms/key-of-cd/" + a, action: "kms:" + a, resource: keyCDARN,
			context: tenant("ab", kmsCtx("cd", "ab")), want: implicit})
		add(simCase{name: "kms/context-cd/" + a, action: "kms:" + a, resource: keyABARN,
			context: tenant("ab", kmsCtx("ab", "cd")), want: implicit})
		add(simCase{name: "kms/no-context/" + a, action: "kms:" + a, resource: keyABARN,
			context: tenant("ab", kmsCtx("ab", "")), want: implicit})
	}

	// Envelope encryption never encrypts with the tenant key itself: no
	// kms:Encrypt, not even on the own key with the own context.
	add(simCase{name: "kms/own/Encrypt-not-granted", action: "kms:Encrypt", resource: keyABARN,
		context: tenant("ab", kmsCtx("ab", "ab")), want: implicit})
	// A key of this tenant id without the stage tag is not this stage's.
	add(simCase{name: "kms/own-id-no-stage-tag/Decrypt", action: "kms:Decrypt", resource: keyABARN,
		context: tenant("ab", map[string]any{"aws:ResourceTag/" + access.TenantTag: "ab", "kms:EncryptionContext:" + access.TenantTag: "ab"}), want: implicit})

	// A session without a tenantId tag gets nothing.
	untagged := []simCase{
		{action: "dynamodb:GetItem", resource: pooledARN, context: leading("ab#PRODUCT")},
		{action: "dynamodb:Query", resource: pooledARN, context: leading("#PRODUCT")},
		{action: "dynamodb:Query", resource: pooledARN},
		{action: "dynamodb:GetItem", resource: tableARN + access.DedicatedTable(devStage, "ab")},
		{action: "dynamodb:GetItem", resource: tableARN + access.DedicatedTablePrefix(devStage)},
		{action: "kms:Decrypt", resource: keyABARN, context: kmsCtx("ab", "ab")},
		// Were the missing tag read as "", an untagged key with an empty context would match.
		{action: "kms:GenerateDataKey", resource: keyABARN, context: map[string]any{
			"aws:ResourceTag/" + access.TenantTag: "", "kms:EncryptionContext:" + access.TenantTag: ""}},
	}
	for i, c := range untagged {
		c.name = fmt.Sprintf("untagged/%d/%s", i, c.action)
		c.want = implicit
		if c.context == nil {
			c.context = map[string]any{}
		}
		add(c)
	}

	// A function role's ledger writes: items under "USAGE#" of the catalog.
	ledger := access.Policy{Version: "2012-10-17", Statement: []access.Statement{
		access.PrefixedItemsStatement("UsageLedger", tableARN+"tessera-catalog", "USAGE#", "dynamodb:PutItem")}}
	for _, c := range []struct {
		name, action string
		ctx          map[string]any
		want         string
	}{
		{"usage-item", "dynamodb:PutItem", leading("USAGE#ab"), allowed},
		{"tenant-item", "dynamodb:PutItem", leading("ab#PRODUCT"), implicit},
		{"tenant-record", "dynamodb:PutItem", leading("TENANT#ab"), implicit},
		{"lower-case-prefix", "dynamodb:PutItem", leading("usage#ab"), implicit},
		{"no-leading-keys", "dynamodb:PutItem", map[string]any{}, implicit},
		{"read", "dynamodb:GetItem", leading("USAGE#ab"), implicit},
	} {
		sc := simCase{name: "ledger/" + c.name, policy: ledger, action: c.action, resource: tableARN + "tessera-catalog",
			context: c.ctx, want: c.want}
		if c.want == allowed {
			sc.wantSid = "UsageLedger"
		}
		add(sc)
	}

	// The real key policy of tenant ab's key, together with the role policy.
	abKeyPolicy := access.TenantKeyPolicy(access.KeyPolicyParams{
		Stage: devStage, Partition: "aws", Account: simAccount, Region: "us-east-1", TenantID: "ab",
		DataAccessRoleARN: roleARN, AdminRoleARN: "arn:aws:iam::" + simAccount + ":role/provisioner",
	}).JSON()
	add(simCase{name: "kms/tenant-key-policy/own", keyPol: abKeyPolicy, action: "kms:Decrypt", resource: keyABARN,
		context: tenant("ab", kmsCtx("ab", "ab")), want: allowed})
	add(simCase{name: "kms/tenant-key-policy/session-cd", keyPol: abKeyPolicy, action: "kms:Decrypt", resource: keyABARN,
		context: tenant("cd", kmsCtx("ab", "cd")), want: implicit})
	add(simCase{name: "kms/tenant-key-policy/context-cd", keyPol: abKeyPolicy, action: "kms:Decrypt", resource: keyABARN,
		context: tenant("ab", kmsCtx("ab", "cd")), want: implicit})
	// Grants on the key: the provisioner, for DynamoDB's own use only.
	provisioner := "arn:aws:sts::" + simAccount + ":assumed-role/provisioner/provisioner-session"
	add(simCase{name: "kms/tenant-key-policy/grant-via-dynamodb", keyPol: abKeyPolicy, principal: provisioner, action: "kms:CreateGrant", resource: keyABARN,
		context: map[string]any{"kms:GrantIsForAWSResource": "true", "kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}, want: allowed})
	add(simCase{name: "kms/tenant-key-policy/grant-direct", keyPol: abKeyPolicy, principal: provisioner, action: "kms:CreateGrant", resource: keyABARN,
		context: map[string]any{"kms:GrantIsForAWSResource": "false"}, want: implicit})
	for _, via := range []string{"dynamodb.eu-west-1.amazonaws.com", "s3.us-east-1.amazonaws.com"} {
		add(simCase{name: "kms/tenant-key-policy/grant-via-" + via, keyPol: abKeyPolicy, principal: provisioner, action: "kms:CreateGrant", resource: keyABARN,
			context: map[string]any{"kms:GrantIsForAWSResource": "true", "kms:ViaService": via}, want: implicit})
	}
	add(simCase{name: "kms/tenant-key-policy/grant-by-data-role", keyPol: abKeyPolicy, action: "kms:CreateGrant", resource: keyABARN,
		context: tenant("ab", map[string]any{"kms:GrantIsForAWSResource": "true", "kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}), want: implicit})

	// Export objects: a session reads and writes only under its own
	// tenant's prefix of the export bucket.
	for _, a := range access.ExportObjectActions {
		add(simCase{name: "s3/own/" + a, action: a, resource: exportBucketARN + "/ab/exports/01J.jsonl",
			context: tenant("ab", nil), want: allowed, wantSid: "OwnExportObjectsOnly"})
		for _, key := range []string{"cd/exports/01J.jsonl", "abc/exports/01J.jsonl", "ab", "exports/ab/01J.jsonl"} {
			add(simCase{name: "s3/foreign/" + a + "/" + key, action: a, resource: exportBucketARN + "/" + key,
				context: tenant("ab", nil), want: implicit})
		}
		add(simCase{name: "s3/other-bucket/" + a, action: a, resource: "arn:aws:s3:::other-bucket/ab/exports/01J.jsonl",
			context: tenant("ab", nil), want: implicit})
		add(simCase{name: "s3/untagged/" + a, action: a, resource: exportBucketARN + "/ab/exports/01J.jsonl",
			context: map[string]any{}, want: implicit})
	}
	for _, c := range []struct{ action, resource string }{
		{"s3:DeleteObject", exportBucketARN + "/ab/exports/01J.jsonl"},
		{"s3:PutObjectAcl", exportBucketARN + "/ab/exports/01J.jsonl"},
		{"s3:ListBucket", exportBucketARN},
	} {
		add(simCase{name: "s3/not-granted/" + c.action, action: c.action, resource: c.resource,
			context: tenant("ab", nil), want: implicit})
	}
	return cases
}

// TestSimSanity checks that the simulator resolves policy variables and
// implements ForAllValues and Null as IAM does, on a policy of our own.
func TestSimSanity(t *testing.T) {
	pol := access.Policy{Version: "2012-10-17", Statement: []access.Statement{{
		Effect: "Allow", Action: []string{"dynamodb:Query"}, Resource: []string{pooledARN},
		Condition: map[string]access.Condition{
			"ForAllValues:StringLike": {"dynamodb:LeadingKeys": {"${aws:PrincipalTag/tenantId}#*"}},
		},
	}}}
	guarded := pol
	guarded.Statement = []access.Statement{pol.Statement[0]}
	guarded.Statement[0].Condition = map[string]access.Condition{
		"ForAllValues:StringLike": pol.Statement[0].Condition["ForAllValues:StringLike"],
		"Null":                    {"dynamodb:LeadingKeys": {"false"}},
	}
	cases := []simCase{
		{name: "variable-resolves", policy: pol, context: tenant("zz", leading("zz#X")), want: allowed},
		{name: "variable-is-not-literal", policy: pol, context: tenant("zz", leading("${aws:PrincipalTag/tenantId}#X")), want: implicit},
		{name: "variable-other-tenant", policy: pol, context: tenant("yy", leading("zz#X")), want: implicit},
		{name: "forallvalues-one-bad", policy: pol, context: tenant("zz", leading("zz#X", "yy#X")), want: implicit},
		{name: "forallvalues-empty-is-true", policy: pol, context: tenant("zz", nil), want: allowed},
		{name: "null-guard-denies-empty", policy: guarded, context: tenant("zz", nil), want: implicit},
		{name: "null-guard-allows-present", policy: guarded, context: tenant("zz", leading("zz#X")), want: allowed},
	}
	for i := range cases {
		cases[i].action, cases[i].resource = "dynamodb:Query", pooledARN
	}
	// kms:EncryptionContext:<key> goes through simulate.mjs's template-key
	// path (see there): check that the key is really compared.
	kmsPol := access.Policy{Version: "2012-10-17", Statement: []access.Statement{{
		Effect: "Allow", Action: []string{"kms:Decrypt"}, Resource: []string{"*"},
		Condition: map[string]access.Condition{
			"StringEquals": {"kms:EncryptionContext:tenantId": {"${aws:PrincipalTag/tenantId}"}},
		},
	}}}
	for _, c := range []simCase{
		{name: "kms-context-equal", context: tenant("zz", map[string]any{"kms:EncryptionContext:tenantId": "zz"}), want: allowed},
		{name: "kms-context-other", context: tenant("zz", map[string]any{"kms:EncryptionContext:tenantId": "yy"}), want: implicit},
		{name: "kms-context-absent", context: tenant("zz", nil), want: implicit},
	} {
		c.policy, c.action, c.resource = kmsPol, "kms:Decrypt", keyABARN
		cases = append(cases, c)
	}
	runSimCases(t, cases)
}

func TestSimDataAccessPolicy(t *testing.T) {
	runSimCases(t, simCases())
}

func runSimCases(t *testing.T, cases []simCase) {
	t.Helper()
	script := iamsim.Script(t)
	rolePolicy := access.DataAccessPolicy(simResources).JSON()
	reqs := make([]iamsim.Request, len(cases))
	for i, c := range cases {
		pol := rolePolicy
		if c.policy.Version != "" {
			pol = c.policy.JSON()
		}
		var keyPol json.RawMessage
		if strings.HasPrefix(c.action, "kms:") {
			keyPol = iamKeyPolicy
			if c.keyPol != nil {
				keyPol = c.keyPol
			}
		}
		principal := sessionARN
		if c.principal != "" {
			principal = c.principal
			pol = access.Policy{Version: "2012-10-17", Statement: []access.Statement{{Effect: "Allow", Action: []string{c.action}, Resource: []string{"*"}}}}.JSON()
		}
		reqs[i] = iamsim.Request{
			Name: c.name, IdentityPolicies: []json.RawMessage{pol}, ResourcePolicy: keyPol,
			Principal: principal, Action: c.action, Resource: c.resource, AccountID: simAccount,
			Context: c.context,
		}
	}
	results, err := iamsim.Run(script, reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		r := results[i]
		t.Run(c.name, func(t *testing.T) {
			t.Logf("%s %s -> %s (allowed by %v, denied by %v, template keys %v)",
				c.action, c.resource, r.Decision, r.AllowedBy, r.DeniedBy, r.TemplateKeys)
			if r.Error != "" {
				t.Fatalf("simulator error: %s", r.Error)
			}
			if len(r.IgnoredContextKeys) > 0 {
				t.Fatalf("simulator ignored context keys %v: the case would not test what it claims", r.IgnoredContextKeys)
			}
			if r.Decision != c.want {
				t.Errorf("decision = %s, want %s", r.Decision, c.want)
			}
			if c.wantSid != "" {
				by := r.AllowedBy
				if c.want == explicit {
					by = r.DeniedBy
				}
				if !slices.ContainsFunc(by, func(s string) bool { return strings.HasSuffix(s, "/"+c.wantSid) }) {
					t.Errorf("decided by %v, want statement %s", by, c.wantSid)
				}
			}
		})
	}
}
