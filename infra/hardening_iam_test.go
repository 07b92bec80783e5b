package main

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/access/iamsim"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// Literal values for the simulator in place of the template's references.
const (
	simAccount = "123456789012"
	simCatalog = "arn:aws:dynamodb:us-east-1:" + simAccount + ":table/Tessera-test-Data-CatalogTable"
)

// literal renders a normalized policy (normPolicy) for the simulator: the
// pseudo parameters and the given references replaced by literal values.
func literal(t *testing.T, pol any, refs map[string]string) json.RawMessage {
	t.Helper()
	s := jsonOf(pol)
	for k, v := range map[string]string{
		"${AWS::Partition}": "aws", "${AWS::Region}": "us-east-1", "${AWS::AccountId}": simAccount, "${AWS::URLSuffix}": "amazonaws.com",
	} {
		s = strings.ReplaceAll(s, k, v)
	}
	for k, v := range refs {
		s = strings.ReplaceAll(s, k, v)
	}
	if i := strings.Index(s, "${"); i >= 0 && !strings.Contains(s[i:], "${aws:") {
		t.Fatalf("unresolved reference in %s", s)
	}
	return json.RawMessage(s)
}

// TestCatalogReadIsTenantRecordsOnly checks the catalog access of the
// functions that only read tenant records (the api and exports functions):
// GetItem on items whose partition key starts with store.CatalogTenantPrefix,
// and nothing else of the catalog; and, in the simulator, that the api
// role's synthesized statements let it read a tenant record but no outbox,
// idempotency or usage item, nor an item without a key.
func TestCatalogReadIsTenantRecordsOnly(t *testing.T) {
	s := synth(t)
	catalogID := s.DataJSON.logicalID(t, "AWS::DynamoDB::Table", "CatalogTable")
	catalogArn := "${Data:" + catalogID + ".Arn}"
	want := normPolicy(access.Policy{Version: "2012-10-17", Statement: []access.Statement{
		access.PrefixedItemsStatement("CatalogRead", catalogArn, store.CatalogTenantPrefix, "dynamodb:GetItem"),
	}}.Map())
	var apiPolicy any
	for _, spec := range functionSpecs {
		if spec.Catalog != catalogRead {
			continue
		}
		roleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", fnID(spec.Name)+"FunctionRole")
		var reads []any
		var dynamo []any
		for _, st := range roleStatements(s.AppJSON, roleID) {
			if !slices.ContainsFunc(strs(st["Action"]), func(a string) bool { return strings.HasPrefix(a, "dynamodb:") }) {
				continue
			}
			dynamo = append(dynamo, st)
			if slices.Contains(strs(st["Action"]), "dynamodb:GetItem") {
				reads = append(reads, st)
			}
		}
		got := normPolicy(map[string]any{"Version": "2012-10-17", "Statement": reads})
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: catalog reads\n got  %s\n want %s", spec.Name, jsonOf(got), jsonOf(want))
		}
		if spec.Name == "api" {
			apiPolicy = normPolicy(map[string]any{"Version": "2012-10-17", "Statement": dynamo})
		}
	}
	if apiPolicy == nil {
		t.Fatal("no api function with catalog read access")
	}

	pol := literal(t, apiPolicy, map[string]string{catalogArn: simCatalog})
	cases := []struct {
		name   string
		action string
		keys   []string
		want   string
	}{
		{"tenant-record", "dynamodb:GetItem", []string{"TENANT#t-ab"}, iamsim.Allowed},
		{"outbox", "dynamodb:GetItem", []string{"OUTBOX"}, iamsim.ImplicitlyDenied},
		{"idempotency", "dynamodb:GetItem", []string{"IDEMPOTENCY#op#key"}, iamsim.ImplicitlyDenied},
		{"usage", "dynamodb:GetItem", []string{store.UsagePrefix + "t-ab"}, iamsim.ImplicitlyDenied},
		{"tenant-data-key", "dynamodb:GetItem", []string{"t-ab#PRODUCT"}, iamsim.ImplicitlyDenied},
		{"no-leading-keys", "dynamodb:GetItem", nil, iamsim.ImplicitlyDenied},
		{"query-tenant-record", "dynamodb:Query", []string{"TENANT#t-ab"}, iamsim.ImplicitlyDenied},
		// The api function's own write to the catalog: the usage ledger.
		{"ledger-write", "dynamodb:PutItem", []string{store.UsagePrefix + "t-ab"}, iamsim.Allowed},
		{"tenant-record-write", "dynamodb:PutItem", []string{"TENANT#t-ab"}, iamsim.ImplicitlyDenied},
		// Its one Query: the feature flag definitions' partition.
		{"query-flags", "dynamodb:Query", []string{store.FlagsPartition}, iamsim.Allowed},
		{"query-flags-prefix", "dynamodb:Query", []string{store.FlagsPartition + "X"}, iamsim.ImplicitlyDenied},
		{"query-outbox", "dynamodb:Query", []string{"OUTBOX"}, iamsim.ImplicitlyDenied},
		{"query-no-leading-keys", "dynamodb:Query", nil, iamsim.ImplicitlyDenied},
		{"flag-write", "dynamodb:PutItem", []string{store.FlagsPartition}, iamsim.ImplicitlyDenied},
		// Settings are written in the tenant's session, never by the role.
		{"tenant-record-update", "dynamodb:UpdateItem", []string{"TENANT#t-ab"}, iamsim.ImplicitlyDenied},
	}
	var reqs []iamsim.Request
	var wants []string
	for _, c := range cases {
		ctx := map[string]any{}
		if c.keys != nil {
			ctx["dynamodb:LeadingKeys"] = c.keys
		}
		reqs = append(reqs, iamsim.Request{Name: c.name, IdentityPolicies: []json.RawMessage{pol},
			Principal: "arn:aws:sts::" + simAccount + ":assumed-role/Tessera-test-ApiFunctionRole/api",
			Action:    c.action, Resource: simCatalog, AccountID: simAccount, Context: ctx})
		wants = append(wants, c.want)
	}
	results, err := iamsim.Run(iamsim.Script(t), reqs)
	if err != nil {
		t.Fatal(err)
	}
	iamsim.Check(t, reqs, results, wants)
}

// TestCursorKeySecret checks the per-stage cursor MAC key: a generated
// Secrets Manager secret in the data stack, its ARN in the environment of
// every function that reads settings.EnvCursorSecretARN, and
// secretsmanager:GetSecretValue on that secret alone for those functions'
// roles (and for no other role, on no other resource).
func TestCursorKeySecret(t *testing.T) {
	s := synth(t)
	secrets := s.DataJSON.resources("AWS::SecretsManager::Secret")
	if len(secrets) != 1 {
		t.Fatalf("data stack has %d secrets, want 1 (the cursor key)", len(secrets))
	}
	var secretID string
	for id, r := range secrets {
		secretID = id
		gen, _ := props(r)["GenerateSecretString"].(map[string]any)
		if gen == nil {
			t.Fatalf("secret %s is not generated: %s", id, jsonOf(props(r)))
		}
		if n, _ := gen["PasswordLength"].(float64); n < 32 {
			t.Errorf("cursor key length %v, want at least 32 characters", gen["PasswordLength"])
		}
	}
	secretArn := "${Data:" + secretID + "}"
	users := 0
	for _, spec := range functionSpecs {
		reads := slices.Contains(spec.Env, settings.EnvCursorSecretARN)
		if reads {
			users++
			if got := flatten(functionVars(t, s, spec.Name)[settings.EnvCursorSecretARN]); got != secretArn {
				t.Errorf("%s: %s = %s, want %s", spec.Name, settings.EnvCursorSecretARN, got, secretArn)
			}
		}
		var on []string
		stripe := "${" + s.AppJSON.logicalID(t, "AWS::SecretsManager::Secret", "StripeApiKey") + "}"
		for i, st := range grantedStatements(s, t, spec.Name, "secretsmanager:") {
			if spec.Billing && slices.Equal(resourcesOf(st), []string{stripe}) {
				continue // the Stripe key (TestBillingFunctionRole)
			}
			if a := strs(st["Action"]); !slices.Equal(a, []string{"secretsmanager:GetSecretValue"}) {
				t.Errorf("%s: Secrets Manager statement %d grants %v, want only GetSecretValue", spec.Name, i, a)
			}
			on = append(on, resourcesOf(st)...)
		}
		var want []string
		if reads {
			want = []string{secretArn}
		}
		if !slices.Equal(on, want) {
			t.Errorf("%s: GetSecretValue on %v, want %v", spec.Name, on, want)
		}
	}
	for _, name := range []string{"api", "tenants"} {
		i := slices.IndexFunc(functionSpecs, func(f functionSpec) bool { return string(f.Name) == name })
		if i < 0 || !slices.Contains(functionSpecs[i].Env, settings.EnvCursorSecretARN) {
			t.Errorf("the %s function hands out list cursors but does not read %s", name, settings.EnvCursorSecretARN)
		}
	}
	if users == 0 {
		t.Error("no function reads the cursor key")
	}
}

// TestExportBucketRequiresTenantKeys checks that the export bucket's policy
// holds access.ExportBucketPolicy (PutObject only with SSE-KMS and a key ARN
// of this account and Region), next to the TLS-only statement.
func TestExportBucketRequiresTenantKeys(t *testing.T) {
	s := synth(t)
	bucketID := s.DataJSON.logicalID(t, "AWS::S3::Bucket", "ExportBucket")
	want := normPolicy(access.ExportBucketPolicy("${"+bucketID+".Arn}", "${AWS::Partition}", "${AWS::Region}", "${AWS::AccountId}").Map())
	wantStmts := want.(map[string]any)["Statement"].([]any)
	var found bool
	for _, bp := range s.DataJSON.resources("AWS::S3::BucketPolicy") {
		if jsonOf(props(bp)["Bucket"]) != jsonOf(ref(bucketID)) {
			continue
		}
		found = true
		got := normPolicy(props(bp)["PolicyDocument"]).(map[string]any)["Statement"].([]any)
		for _, w := range wantStmts {
			if !slices.ContainsFunc(got, func(g any) bool { return reflect.DeepEqual(g, w) }) {
				t.Errorf("export bucket policy lacks %s\n has %s", jsonOf(w), jsonOf(got))
			}
		}
	}
	if !found {
		t.Fatal("the export bucket has no bucket policy")
	}
}
