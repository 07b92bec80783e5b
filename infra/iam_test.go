package main

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// dynamoDataActions are the DynamoDB actions that read or write items.
var dynamoDataActions = []string{
	"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan",
	"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
	"dynamodb:ConditionCheckItem", "dynamodb:PartiQLSelect", "dynamodb:PartiQLInsert",
	"dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete", "dynamodb:ExportTableToPointInTime",
	"dynamodb:RestoreTableToPointInTime", "dynamodb:ImportTable", "dynamodb:GetRecords",
}

func TestDataAccessRoleLeadingKeyCondition(t *testing.T) {
	s := synth(t)
	principalTenant := "${aws:PrincipalTag/" + access.TenantTag + "}"
	check(t, "HasResourceProperties", func() {
		s.App.HasResourceProperties(jsii.String("AWS::IAM::Role"), map[string]any{
			"RoleName":           access.RoleName + "-" + testStage,
			"MaxSessionDuration": 3600,
			"Policies": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{
					"Statement": assertions.Match_ArrayWith(&[]any{
						assertions.Match_ObjectLike(&map[string]any{
							"Sid":    "PooledItemsOfOwnTenantOnly",
							"Effect": "Allow",
							"Condition": map[string]any{
								"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": []any{principalTenant + "#*"}},
								"Null": map[string]any{
									"dynamodb:LeadingKeys":                 []any{"false"},
									"aws:PrincipalTag/" + access.TenantTag: []any{"false"},
								},
							},
						}),
						assertions.Match_ObjectLike(&map[string]any{
							"Sid": "OwnTenantKeyWithOwnContext",
							"Condition": assertions.Match_ObjectLike(&map[string]any{
								"StringEquals": map[string]any{
									"aws:ResourceTag/" + access.TenantTag:       []any{principalTenant},
									"kms:EncryptionContext:" + access.TenantTag: []any{principalTenant},
								},
							}),
						}),
					}),
				}),
			})}),
		})
	})
}

// TestDataAccessRoleIsAccessPolicy checks that the role's policy and trust
// are access.DataAccessPolicy and access.TrustPolicy, statement for
// statement, with the CloudFormation references in place of the ARNs.
func TestDataAccessRoleIsAccessPolicy(t *testing.T) {
	s := synth(t)
	roleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", access.RoleName)
	role := props(s.AppJSON.resources("AWS::IAM::Role")[roleID])
	pooledID := s.DataJSON.logicalID(t, "AWS::DynamoDB::Table", "PooledTable")
	bucketID := s.DataJSON.logicalID(t, "AWS::S3::Bucket", "ExportBucket")
	backupID := s.DataJSON.logicalID(t, "AWS::S3::Bucket", "BackupBucket")
	catalogID := s.DataJSON.logicalID(t, "AWS::DynamoDB::Table", "CatalogTable")
	apiRoleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", "ApiFunctionRole")
	provisionerRoleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", "ProvisionerFunctionRole")
	exportsRoleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", "ExportsFunctionRole")
	changeFeedRoleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", fnID(functionChangeFeed)+"FunctionRole")
	tenantsRoleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", "TenantsFunctionRole")
	fleetRoleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", fnID(functionFleet)+"FunctionRole")
	billingRoleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", fnID(functionBilling)+"FunctionRole")

	policies := list(role["Policies"])
	if len(policies) != 1 {
		t.Fatalf("TenantDataAccessRole has %d inline policies, want 1", len(policies))
	}
	if mp := role["ManagedPolicyArns"]; mp != nil {
		t.Errorf("TenantDataAccessRole has managed policies %v", mp)
	}
	got := normPolicy(policies[0].(map[string]any)["PolicyDocument"])
	want := normPolicy(access.DataAccessPolicy(access.Resources{
		Stage:           testStage,
		PooledTableARN:  "${Data:" + pooledID + ".Arn}",
		Partition:       "${AWS::Partition}",
		Region:          "${AWS::Region}",
		Account:         "${AWS::AccountId}",
		ExportBucketARN: "${Data:" + bucketID + ".Arn}",
		BackupBucketARN: "${Data:" + backupID + ".Arn}",
		CatalogTableARN: "${Data:" + catalogID + ".Arn}",
	}).Map())
	if !reflect.DeepEqual(got, want) {
		t.Errorf("TenantDataAccessRole policy\n got  %s\n want %s", jsonOf(got), jsonOf(want))
	}

	gotTrust := normPolicy(role["AssumeRolePolicyDocument"])
	// Exactly the api, tenants, provisioner, exports, changefeed, fleet and
	// billing roles: the functions that act for a tenant on its data (the
	// tenants function reads its snapshots' manifests; the fleet migrates
	// items; billing counts a tenant's items).
	wantTrust := normPolicy(access.TrustPolicy([]string{
		"${" + apiRoleID + ".Arn}", "${" + tenantsRoleID + ".Arn}", "${" + provisionerRoleID + ".Arn}", "${" + exportsRoleID + ".Arn}",
		"${" + changeFeedRoleID + ".Arn}", "${" + fleetRoleID + ".Arn}", "${" + billingRoleID + ".Arn}",
	}).Map())
	if !reflect.DeepEqual(gotTrust, wantTrust) {
		t.Errorf("TenantDataAccessRole trust\n got  %s\n want %s", jsonOf(gotTrust), jsonOf(wantTrust))
	}
}

// ledgerCondition is the condition of the usage ledger statement, as
// flatten renders it: every leading key under store.UsagePrefix, and some.
var ledgerCondition = jsonOf(map[string]any{
	"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": []any{store.UsagePrefix + "*"}},
	"Null":                    map[string]any{"dynamodb:LeadingKeys": []any{"false"}},
})

// catalogReadCondition is the condition of the catalog read statement of
// the functions that only read tenant records.
var catalogReadCondition = jsonOf(map[string]any{
	"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": []any{store.CatalogTenantPrefix + "*"}},
	"Null":                    map[string]any{"dynamodb:LeadingKeys": []any{"false"}},
})

// flagReadCondition is the condition of the flag definitions' read
// (access.PartitionStatement on store.FlagsPartition).
var flagReadCondition = jsonOf(map[string]any{
	"ForAllValues:StringEquals": map[string]any{"dynamodb:LeadingKeys": []any{store.FlagsPartition}},
	"Null":                      map[string]any{"dynamodb:LeadingKeys": []any{"false"}},
})

// TestFunctionRolesHaveNoTenantData checks every function role: no managed
// policies, no DynamoDB item action on the pooled table or on a wildcard,
// and item actions only on the catalog table (and its list index), no more
// than the function's spec allows. The one conditional grant is the usage
// ledger's: PutItem on catalog items under store.UsagePrefix only, a prefix
// no tenant's partition key can have.
func TestFunctionRolesHaveNoTenantData(t *testing.T) {
	if id := strings.TrimSuffix(store.UsagePrefix, "#"); tenant.ValidID(id) || !strings.HasSuffix(store.UsagePrefix, "#") {
		t.Fatalf("store.UsagePrefix %q could be the partition prefix %q of a tenant", store.UsagePrefix, id+"#")
	}
	if strings.ContainsAny(store.UsagePrefix, "*?") {
		t.Fatalf("store.UsagePrefix %q holds an IAM wildcard", store.UsagePrefix)
	}
	s := synth(t)
	pooledID := s.DataJSON.logicalID(t, "AWS::DynamoDB::Table", "PooledTable")
	catalogID := s.DataJSON.logicalID(t, "AWS::DynamoDB::Table", "CatalogTable")
	roles := functionRoleIDs(t, s.AppJSON)
	if len(roles) != len(functionSpecs) {
		t.Fatalf("found %d function roles, want %d", len(roles), len(functionSpecs))
	}
	indexSuffix := "/index/" + store.CatalogIndex
	pooledStream := "${Data:" + pooledID + ".StreamArn}"
	dedicatedStreams := "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/" + access.DedicatedTablePrefix(testStage) + "*/stream/*"
	for _, spec := range functionSpecs {
		roleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", fnID(spec.Name)+"FunctionRole")
		if !slices.Contains(roles, roleID) {
			t.Errorf("role %s is not the role of a function", roleID)
		}
		var allowed, allowedOnIndex []string
		switch spec.Catalog {
		case catalogRead:
			allowed = catalogReadActions
		case catalogReadWrite:
			allowed = catalogReadWriteActions
		case catalogReadWriteList:
			allowed, allowedOnIndex = catalogReadWriteActions, []string{"dynamodb:Query"}
		case catalogReadList:
			allowed, allowedOnIndex = catalogReadActions, []string{"dynamodb:Query"}
		}
		t.Run(string(spec.Name), func(t *testing.T) {
			role := props(s.AppJSON.resources("AWS::IAM::Role")[roleID])
			if mp := role["ManagedPolicyArns"]; mp != nil {
				t.Errorf("managed policies %s on a function role", jsonOf(mp))
			}
			stmts := roleStatements(s.AppJSON, roleID)
			if len(stmts) == 0 {
				t.Fatal("no policy statements found")
			}
			var onTable, onIndex, onLedger []string
			for i, st := range stmts {
				if st["NotAction"] != nil || st["NotResource"] != nil {
					t.Errorf("statement %d uses NotAction/NotResource: %s", i, jsonOf(st))
				}
				if st["Effect"] != "Allow" {
					continue
				}
				var granted []string
				for _, pattern := range strs(st["Action"]) {
					if strings.Contains(pattern, "*") && strings.HasPrefix(strings.ToLower(pattern), "dynamodb:") {
						t.Errorf("statement %d grants the DynamoDB wildcard action %s: %s", i, pattern, jsonOf(st))
					}
					for _, a := range dynamoDataActions {
						if actionMatches(pattern, a) {
							granted = append(granted, a)
						}
					}
				}
				if len(granted) == 0 {
					continue
				}
				if streamRead(st) {
					// Lambda reads a stream with its consumer's own role:
					// the change feed's, on this stage's tables' streams
					// only (TestChangeFeedRole), never on their items.
					if !spec.ChangeFeed {
						t.Errorf("statement %d reads streams, and %s is not the change feed: %s", i, spec.Name, jsonOf(st))
					}
					for _, r := range list(st["Resource"]) {
						if res := flatten(r); res != pooledStream && res != dedicatedStreams {
							t.Errorf("statement %d reads the stream %s, not the pooled table's or a dedicated table's: %s", i, res, jsonOf(st))
						}
					}
					continue
				}
				if st["Condition"] != nil && (spec.Catalog == catalogRead || spec.Catalog == catalogReadList) && jsonOf(normConditionLists(st["Condition"])) == catalogReadCondition {
					// Tenant records only (TestCatalogReadIsTenantRecordsOnly).
					if res := sortedFlat(st["Resource"]); !slices.Equal(res, []string{"${Data:" + catalogID + ".Arn}"}) {
						t.Errorf("catalog read statement %d on %v, want only the catalog table", i, res)
					}
					onTable = append(onTable, granted...)
					continue
				}
				if st["Condition"] != nil && spec.ReadsFlags && jsonOf(normConditionLists(st["Condition"])) == flagReadCondition {
					// The flag definitions' partition, with Query only.
					if res := sortedFlat(st["Resource"]); !slices.Equal(res, []string{"${Data:" + catalogID + ".Arn}"}) ||
						!slices.Equal(granted, flagReadActions) {
						t.Errorf("flag read statement %d grants %v on %v, want Query on the catalog table", i, granted, res)
					}
					continue
				}
				if st["Condition"] != nil {
					// Otherwise only the ledger's condition narrows a grant here.
					if got := jsonOf(normConditionLists(st["Condition"])); got != ledgerCondition {
						t.Errorf("statement %d grants %v under the condition %s, want only the ledger's %s", i, granted, got, ledgerCondition)
					}
					if res := sortedFlat(st["Resource"]); !slices.Equal(res, []string{"${Data:" + catalogID + ".Arn}"}) {
						t.Errorf("ledger statement %d on %v, want only the catalog table", i, res)
					}
					onLedger = append(onLedger, granted...)
					continue
				}
				for _, r := range list(st["Resource"]) {
					res := flatten(r)
					switch {
					case strings.Contains(res, pooledID):
						t.Errorf("statement %d grants %v on the pooled table: %s", i, granted, jsonOf(st))
					case strings.Contains(res, "*"):
						t.Errorf("statement %d grants %v on a wildcard: %s", i, granted, jsonOf(st))
					case res == "${Data:"+catalogID+".Arn}":
						onTable = append(onTable, granted...)
					case res == "${Data:"+catalogID+".Arn}"+indexSuffix:
						onIndex = append(onIndex, granted...)
					default:
						t.Errorf("statement %d grants %v on %s, not the catalog table: %s", i, granted, res, jsonOf(st))
					}
				}
			}
			var allowedOnLedger []string
			if spec.UsageLedger {
				allowedOnLedger = usageLedgerActions
			}
			if spec.Billing {
				allowedOnLedger = billingLedgerActions
			}
			for _, c := range []struct {
				what         string
				got, allowed []string
			}{
				{"catalog table", onTable, allowed},
				{"catalog index " + store.CatalogIndex, onIndex, allowedOnIndex},
				{"usage ledger (" + store.UsagePrefix + "*)", onLedger, allowedOnLedger},
			} {
				for _, a := range c.got {
					if !slices.Contains(c.allowed, a) {
						t.Errorf("%s granted on the %s (allowed: %v)", a, c.what, c.allowed)
					}
				}
				for _, a := range c.allowed {
					if !slices.Contains(c.got, a) {
						t.Errorf("%s not granted on the %s", a, c.what)
					}
				}
			}
		})
	}
}

// TestFunctionRolesAssumeOnlyDataAccessRole checks that the tenant-data
// functions (api, provisioner) may assume TenantDataAccessRole (with a
// session tag) and no other role, and that the others (tenants) may assume
// no role at all.
func TestFunctionRolesAssumeOnlyDataAccessRole(t *testing.T) {
	s := synth(t)
	dataRoleArn := jsonOf(getAttArn(s.AppJSON.logicalID(t, "AWS::IAM::Role", access.RoleName)))
	stsActions := []string{"sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML", "sts:TagSession", "sts:SetSourceIdentity", "sts:GetFederationToken"}
	for _, spec := range functionSpecs {
		t.Run(string(spec.Name), func(t *testing.T) {
			roleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", fnID(spec.Name)+"FunctionRole")
			var found []string
			for i, st := range roleStatements(s.AppJSON, roleID) {
				for _, pattern := range strs(st["Action"]) {
					for _, a := range stsActions {
						if !actionMatches(pattern, a) {
							continue
						}
						found = append(found, a)
						if pattern != a {
							t.Errorf("statement %d grants %s through the wildcard %s", i, a, pattern)
						}
						for _, r := range list(st["Resource"]) {
							if jsonOf(r) != dataRoleArn {
								t.Errorf("statement %d grants %s on %s, want only TenantDataAccessRole %s", i, a, jsonOf(r), dataRoleArn)
							}
						}
					}
				}
			}
			slices.Sort(found)
			var want []string
			if spec.TenantData {
				want = []string{"sts:AssumeRole", "sts:TagSession"}
			}
			if !slices.Equal(found, want) {
				t.Errorf("%s role STS actions = %v, want %v", spec.Name, found, want)
			}
		})
	}
}

// streamRead reports whether a statement grants stream reads and nothing
// else: unconditioned, its actions among changeFeedStreamActions.
func streamRead(st map[string]any) bool {
	actions := strs(st["Action"])
	if st["Condition"] != nil || len(actions) == 0 {
		return false
	}
	for _, a := range actions {
		if !slices.Contains(changeFeedStreamActions, a) {
			return false
		}
	}
	return true
}

// functionRoleIDs returns the logical ids of the Lambda functions' roles.
func functionRoleIDs(t *testing.T, tmpl cfnTemplate) []string {
	t.Helper()
	var ids []string
	for id, fn := range tmpl.resources("AWS::Lambda::Function") {
		att, ok := props(fn)["Role"].(map[string]any)["Fn::GetAtt"].([]any)
		if !ok || len(att) != 2 {
			t.Fatalf("function %s: role is not a GetAtt of a role in this stack: %s", id, jsonOf(props(fn)["Role"]))
		}
		ids = append(ids, att[0].(string))
	}
	slices.Sort(ids)
	return ids
}

// roleStatements gathers the statements of every policy of a role: its
// inline policies and the AWS::IAM::Policy resources attached to it.
func roleStatements(tmpl cfnTemplate, roleID string) []map[string]any {
	var docs []any
	for _, p := range list(props(tmpl.resources("AWS::IAM::Role")[roleID])["Policies"]) {
		docs = append(docs, p.(map[string]any)["PolicyDocument"])
	}
	for _, p := range tmpl.resources("AWS::IAM::Policy") {
		if strings.Contains(jsonOf(props(p)["Roles"]), jsonOf(ref(roleID))) {
			docs = append(docs, props(p)["PolicyDocument"])
		}
	}
	var out []map[string]any
	for _, d := range docs {
		for _, st := range list(d.(map[string]any)["Statement"]) {
			out = append(out, st.(map[string]any))
		}
	}
	return out
}

// normPolicy puts a policy document in a comparable form: every
// "string or list" as a sorted list, and CloudFormation references
// flattened to strings ("${Id.Arn}", "${AWS::Region}", "${Data:Id.Arn}").
func normPolicy(doc any) any {
	d, _ := doc.(map[string]any)
	var stmts []any
	for _, s := range list(d["Statement"]) {
		st := s.(map[string]any)
		n := map[string]any{"Effect": st["Effect"], "Action": sortedStrs(st["Action"])}
		if st["Sid"] != nil {
			n["Sid"] = st["Sid"]
		}
		if st["Resource"] != nil {
			n["Resource"] = sortedFlat(st["Resource"])
		}
		if p, ok := st["Principal"].(map[string]any); ok {
			np := map[string]any{}
			for k, v := range p {
				np[k] = sortedFlat(v)
			}
			n["Principal"] = np
		}
		if c, ok := st["Condition"].(map[string]any); ok {
			nc := map[string]any{}
			for op, kv := range c {
				m := map[string]any{}
				for k, v := range kv.(map[string]any) {
					m[k] = sortedFlat(v)
				}
				nc[op] = m
			}
			n["Condition"] = nc
		}
		stmts = append(stmts, n)
	}
	return map[string]any{"Version": d["Version"], "Statement": stmts}
}

// normConditionLists renders a condition block with every value a sorted
// list of flattened strings.
func normConditionLists(v any) map[string]any {
	out := map[string]any{}
	c, _ := v.(map[string]any)
	for op, kv := range c {
		m := map[string]any{}
		for k, val := range kv.(map[string]any) {
			m[k] = sortedFlat(val)
		}
		out[op] = m
	}
	return out
}

func sortedStrs(v any) []string {
	s := strs(v)
	slices.Sort(s)
	return s
}

func sortedFlat(v any) []string {
	var out []string
	for _, e := range list(v) {
		out = append(out, flatten(e))
	}
	slices.Sort(out)
	return out
}

// crossStackStreamArn matches an import of a table's StreamArn from the
// data stack (before crossStackArn, which would take "Stream" for a part
// of the logical id).
var crossStackStreamArn = regexp.MustCompile(`^[^:]+-Data:ExportsOutputFnGetAtt(\w+?)StreamArn[0-9A-F]{8}$`)

var crossStackArn = regexp.MustCompile(`^[^:]+-Data:ExportsOutputFnGetAtt(\w+?)Arn[0-9A-F]{8}$`)

var crossStackRef = regexp.MustCompile(`^[^:]+-Data:ExportsOutputRef(\w+?)[0-9A-F]{8}$`)

// flatten renders a CloudFormation value as one string.
func flatten(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if r, ok := x["Ref"].(string); ok {
			return "${" + r + "}"
		}
		if att, ok := x["Fn::GetAtt"].([]any); ok && len(att) == 2 {
			return "${" + flatten(att[0]) + "." + flatten(att[1]) + "}"
		}
		if name, ok := x["Fn::ImportValue"].(string); ok {
			if m := crossStackStreamArn.FindStringSubmatch(name); m != nil {
				return "${Data:" + m[1] + ".StreamArn}"
			}
			if m := crossStackArn.FindStringSubmatch(name); m != nil {
				return "${Data:" + m[1] + ".Arn}"
			}
			if m := crossStackRef.FindStringSubmatch(name); m != nil {
				return "${Data:" + m[1] + "}"
			}
			return "${Import:" + name + "}"
		}
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			var parts []string
			for _, p := range list(j[1]) {
				parts = append(parts, flatten(p))
			}
			return strings.Join(parts, flatten(j[0]))
		}
	}
	return jsonOf(v)
}
