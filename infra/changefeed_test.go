package main

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/control/tenantstack"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/access/iamsim"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// streamRetention is how long DynamoDB Streams keeps a record.
const streamRetention = 24 * 60 * 60 // seconds

// TestChangeFeedStreams checks the streams: the pooled table and the
// dedicated table have one with new and old images; the catalog has none.
func TestChangeFeedStreams(t *testing.T) {
	s := synth(t)
	want := jsonOf(map[string]any{"StreamViewType": "NEW_AND_OLD_IMAGES"})
	for _, tc := range []struct {
		name   string
		tmpl   cfnTemplate
		prefix string
		want   string
	}{
		{"pooled", s.DataJSON, "PooledTable", want},
		{"dedicated", s.TenantJSON, "Table", want},
		{"catalog", s.DataJSON, "CatalogTable", "null"},
	} {
		id := tc.tmpl.logicalID(t, "AWS::DynamoDB::Table", tc.prefix)
		if got := jsonOf(props(tc.tmpl.resources("AWS::DynamoDB::Table")[id])["StreamSpecification"]); got != tc.want {
			t.Errorf("%s table: StreamSpecification = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestBackupBucket checks the backup bucket: private, TLS only, versioned
// (its lifecycle rules: TestBackupLifecycleRules), uploads only with SSE-KMS
// under a key of this account and Region (access.ExportBucketPolicy), its
// name an output, and its ARN in TenantDataAccessRole's policy
// (TestDataAccessRoleIsAccessPolicy checks the statements).
func TestBackupBucket(t *testing.T) {
	s := synth(t)
	bucketID := s.DataJSON.logicalID(t, "AWS::S3::Bucket", "BackupBucket")
	p := props(s.DataJSON.resources("AWS::S3::Bucket")[bucketID])
	for k, want := range map[string]any{
		"PublicAccessBlockConfiguration": map[string]any{
			"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
		},
		"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{
			map[string]any{"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"}},
		}},
		"VersioningConfiguration": map[string]any{"Status": "Enabled"},
		"OwnershipControls":       map[string]any{"Rules": []any{map[string]any{"ObjectOwnership": "BucketOwnerEnforced"}}},
	} {
		if jsonOf(p[k]) != jsonOf(want) {
			t.Errorf("%s = %s, want %s", k, jsonOf(p[k]), jsonOf(want))
		}
	}

	var policies []map[string]any
	for _, bp := range s.DataJSON.resources("AWS::S3::BucketPolicy") {
		if jsonOf(props(bp)["Bucket"]) == jsonOf(ref(bucketID)) {
			policies = append(policies, bp)
		}
	}
	if len(policies) != 1 {
		t.Fatalf("the backup bucket has %d bucket policies, want 1", len(policies))
	}
	got := normPolicy(props(policies[0])["PolicyDocument"]).(map[string]any)["Statement"].([]any)
	want := normPolicy(access.ExportBucketPolicy("${"+bucketID+".Arn}", "${AWS::Partition}", "${AWS::Region}", "${AWS::AccountId}").Map())
	for _, w := range want.(map[string]any)["Statement"].([]any) {
		if !slices.ContainsFunc(got, func(g any) bool { return reflect.DeepEqual(g, w) }) {
			t.Errorf("backup bucket policy lacks %s\n has %s", jsonOf(w), jsonOf(got))
		}
	}
	// enforceSSL: every request without TLS is denied.
	tls := map[string]any{
		"Effect": "Deny", "Action": []string{"s3:*"}, "Principal": map[string]any{"AWS": []string{"*"}},
		"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": []string{"false"}}},
		"Resource":  []string{"${" + bucketID + ".Arn}", "${" + bucketID + ".Arn}/*"},
	}
	if !slices.ContainsFunc(got, func(g any) bool { return jsonOf(g) == jsonOf(tls) }) {
		t.Errorf("backup bucket policy lacks the TLS-only statement %s\n has %s", jsonOf(tls), jsonOf(got))
	}
	if len(got) != len(want.(map[string]any)["Statement"].([]any))+1 {
		t.Errorf("backup bucket policy has %d statements, want the TLS one and access.ExportBucketPolicy's: %s", len(got), jsonOf(got))
	}

	check(t, "output", func() {
		s.Data.HasOutput(jsii.String("BackupBucketName"), map[string]any{"Value": ref(bucketID)})
	})
}

// TestChangeFeedDLQ checks the change feed's dead-letter queue: encrypted,
// TLS only, 14 days of retention, its URL an output.
func TestChangeFeedDLQ(t *testing.T) {
	s := synth(t)
	id := s.DataJSON.logicalID(t, "AWS::SQS::Queue", "ChangeFeedDLQ")
	q := props(s.DataJSON.resources("AWS::SQS::Queue")[id])
	if q["SqsManagedSseEnabled"] != true {
		t.Errorf("SqsManagedSseEnabled = %v", q["SqsManagedSseEnabled"])
	}
	if got, want := q["MessageRetentionPeriod"], float64(changeFeedDLQRetention*24*60*60); got != want {
		t.Errorf("MessageRetentionPeriod = %v, want %v", got, want)
	}
	check(t, "TLS only", func() {
		s.Data.HasResourceProperties(jsii.String("AWS::SQS::QueuePolicy"), map[string]any{
			"Queues": []any{ref(id)},
			"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{
				"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
					"Effect": "Deny", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
				})}),
			}),
		})
	})
	check(t, "output", func() {
		s.Data.HasOutput(jsii.String("ChangeFeedDLQUrl"), map[string]any{"Value": ref(id)})
	})
}

// mappingSettings are the properties of a change feed mapping that are the
// same whatever the table: all but the function, the stream and the
// destination.
var mappingSettings = map[string]any{
	"StartingPosition":           "TRIM_HORIZON",
	"BatchSize":                  100,
	"BisectBatchOnFunctionError": true,
	"FunctionResponseTypes":      []any{"ReportBatchItemFailures"},
	"MaximumRetryAttempts":       10,
	"MaximumRecordAgeInSeconds":  changeFeedMaxRecordAge.Seconds(),
}

// checkMappingSettings checks a mapping's properties against
// mappingSettings, and that it has no others but the given ones.
func checkMappingSettings(t *testing.T, p map[string]any, others ...string) {
	t.Helper()
	for k, want := range mappingSettings {
		if jsonOf(p[k]) != jsonOf(want) {
			t.Errorf("%s = %s, want %s", k, jsonOf(p[k]), jsonOf(want))
		}
	}
	for k := range p {
		if _, ok := mappingSettings[k]; !ok && !slices.Contains(others, k) {
			t.Errorf("unexpected property %s = %s", k, jsonOf(p[k]))
		}
	}
	// Bounded: a poisoned batch reaches the dead-letter queue while the
	// stream still holds its records, so that it can be replayed.
	if age, _ := p["MaximumRecordAgeInSeconds"].(float64); age <= 0 || age >= streamRetention {
		t.Errorf("MaximumRecordAgeInSeconds = %v, want more than 0 and less than the stream's retention (%d s)", age, streamRetention)
	}
}

// TestChangeFeedMapping checks the event source of the changefeed function:
// the pooled table's stream, and nothing else, with the change feed's
// settings and the dead-letter queue as on-failure destination.
func TestChangeFeedMapping(t *testing.T) {
	s := synth(t)
	fnLogicalID := s.AppJSON.logicalID(t, "AWS::Lambda::Function", fnID(functionChangeFeed)+"Function")
	pooledID := s.DataJSON.logicalID(t, "AWS::DynamoDB::Table", "PooledTable")
	dlqID := s.DataJSON.logicalID(t, "AWS::SQS::Queue", "ChangeFeedDLQ")
	var mappings []map[string]any
	for _, m := range s.AppJSON.resources("AWS::Lambda::EventSourceMapping") {
		if p := props(m); jsonOf(p["FunctionName"]) == jsonOf(ref(fnLogicalID)) {
			mappings = append(mappings, p)
		}
	}
	if len(mappings) != 1 {
		t.Fatalf("the changefeed function has %d event sources in the app stack, want 1 (the pooled table's stream)", len(mappings))
	}
	p := mappings[0]
	if got, want := flatten(p["EventSourceArn"]), "${Data:"+pooledID+".StreamArn}"; got != want {
		t.Errorf("EventSourceArn = %s, want %s", got, want)
	}
	dest, _ := p["DestinationConfig"].(map[string]any)
	onFailure, _ := dest["OnFailure"].(map[string]any)
	if got, want := flatten(onFailure["Destination"]), "${Data:"+dlqID+".Arn}"; got != want || len(dest) != 1 {
		t.Errorf("DestinationConfig = %s, want the on-failure destination %s", jsonOf(dest), want)
	}
	checkMappingSettings(t, p, "FunctionName", "EventSourceArn", "DestinationConfig")

	// The mapping's records are the function's only trigger.
	for _, typ := range []string{"AWS::Lambda::Permission", "AWS::Lambda::Url", "AWS::Events::Rule"} {
		for id, r := range s.AppJSON.resources(typ) {
			if strings.Contains(jsonOf(r), fnLogicalID) {
				t.Errorf("%s %s reaches the changefeed function: %s", typ, id, jsonOf(r))
			}
		}
	}
}

// TestChangeFeedFunction checks the changefeed function's configuration:
// its settings' values, and timeout within what the mapping allows.
func TestChangeFeedFunction(t *testing.T) {
	s := synth(t)
	vars := functionVars(t, s, functionChangeFeed)
	backupID := s.DataJSON.logicalID(t, "AWS::S3::Bucket", "BackupBucket")
	catalogID := s.DataJSON.logicalID(t, "AWS::DynamoDB::Table", "CatalogTable")
	dataRoleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", access.RoleName)
	for name, want := range map[string]string{
		settings.EnvStage:             testStage,
		settings.EnvBackupBucket:      "${Data:" + backupID + "}",
		settings.EnvCatalogTable:      "${Data:" + catalogID + "}",
		settings.EnvDataAccessRoleARN: "${" + dataRoleID + ".Arn}",
	} {
		if got := flatten(vars[name]); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	if len(vars) != 4 {
		t.Errorf("environment %v, want the four settings above", keys(vars))
	}
	// Only the changefeed function, and those that back up and restore
	// (TestBackupFunctions), know the backup bucket.
	for _, spec := range functionSpecs {
		want := spec.Name == functionChangeFeed || spec.Name == functionProvisioner || spec.Name == route.FunctionTenants
		if _, ok := functionVars(t, s, spec.Name)[settings.EnvBackupBucket]; ok != want {
			t.Errorf("%s: %s set: %v", spec.Name, settings.EnvBackupBucket, ok)
		}
	}
	check(t, "output", func() {
		s.App.HasOutput(jsii.String("ChangeFeedFunctionArn"), map[string]any{
			"Value": getAttArn(s.AppJSON.logicalID(t, "AWS::Lambda::Function", fnID(functionChangeFeed)+"Function")),
		})
	})
}

// TestChangeFeedRole checks every statement of the changefeed function's
// role against the one list of what it needs: its log group, the tenant
// sessions (TenantDataAccessRole with the session tag), tenant records in
// the catalog, the streams of this stage's tables (read by Lambda with
// this role), and sending to its dead-letter queue. Nothing of S3, KMS or
// any table's items. Then, in the IAM simulator, that the synthesized
// statements allow reading the pooled table's stream and a dedicated
// table's of this stage, and deny the rest.
func TestChangeFeedRole(t *testing.T) {
	s := synth(t)
	roleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", fnID(functionChangeFeed)+"FunctionRole")
	logsID := s.AppJSON.logicalID(t, "AWS::Logs::LogGroup", fnID(functionChangeFeed)+"FunctionLogs")
	dataRoleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", access.RoleName)
	pooledID := s.DataJSON.logicalID(t, "AWS::DynamoDB::Table", "PooledTable")
	catalogID := s.DataJSON.logicalID(t, "AWS::DynamoDB::Table", "CatalogTable")
	dlqID := s.DataJSON.logicalID(t, "AWS::SQS::Queue", "ChangeFeedDLQ")
	pooledStream := "${Data:" + pooledID + ".StreamArn}"
	dedicatedStreams := "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/" + access.DedicatedTablePrefix(testStage) + "*/stream/*"
	catalogRead := normPolicy(access.Policy{Statement: []access.Statement{
		access.PrefixedItemsStatement("CatalogRead", "${Data:"+catalogID+".Arn}", store.CatalogTenantPrefix, catalogReadActions...),
	}}.Map()).(map[string]any)["Statement"].([]any)[0]

	allowed := []struct {
		what     string
		actions  []string
		resource string
	}{
		{"own log group", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, "${" + logsID + ".Arn}"},
		{"tenant sessions", []string{"sts:AssumeRole", "sts:TagSession"}, "${" + dataRoleID + ".Arn}"},
		{"pooled stream", changeFeedStreamActions, pooledStream},
		{"dedicated streams", changeFeedStreamActions, dedicatedStreams},
		{"stream listing", []string{"dynamodb:ListStreams"}, "*"},
		{"dead-letter queue", []string{"sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"}, "${Data:" + dlqID + ".Arn}"},
	}
	found := map[string]bool{}
	var stmts []any
	for i, st := range roleStatements(s.AppJSON, roleID) {
		stmts = append(stmts, st)
		if st["Effect"] != "Allow" {
			continue
		}
		n := normPolicy(map[string]any{"Statement": []any{st}}).(map[string]any)["Statement"].([]any)[0].(map[string]any)
		if st["Condition"] != nil {
			delete(n, "Sid")
			c := catalogRead.(map[string]any)
			want := map[string]any{"Effect": c["Effect"], "Action": c["Action"], "Resource": c["Resource"], "Condition": c["Condition"]}
			if !reflect.DeepEqual(n, want) {
				t.Errorf("statement %d: the only conditional statement should be the catalog read %s: %s", i, jsonOf(want), jsonOf(n))
			}
			found["catalog read"] = true
			continue
		}
		actions, _ := n["Action"].([]string)
		res, _ := n["Resource"].([]string)
		ok := false
		for _, a := range allowed {
			want := slices.Sorted(slices.Values(a.actions))
			if slices.Equal(actions, want) && slices.Equal(res, []string{a.resource}) {
				ok, found[a.what] = true, true
			}
		}
		if !ok {
			t.Errorf("statement %d is none of what the changefeed role needs: %s", i, jsonOf(st))
		}
	}
	for _, w := range append([]string{"catalog read"}, func() []string {
		var out []string
		for _, a := range allowed {
			out = append(out, a.what)
		}
		return out
	}()...) {
		if !found[w] {
			t.Errorf("the changefeed role lacks its %s statement", w)
		}
	}

	const (
		pooledTable    = "arn:aws:dynamodb:us-east-1:" + simAccount + ":table/Tessera-test-Data-PooledTable"
		pooledStreamL  = pooledTable + "/stream/2026-01-01T00:00:00.000"
		dedicatedTable = "arn:aws:dynamodb:us-east-1:" + simAccount + ":table/tessera-test-tenant-t-ab"
		backupObject   = "arn:aws:s3:::tessera-test-backups/t-ab/changes/x.jsonl"
	)
	refs := map[string]string{pooledStream: pooledStreamL}
	pol := literal(t, normPolicy(map[string]any{"Version": "2012-10-17", "Statement": stmts}), placeholders(t, stmts, refs))
	cases := []struct {
		name, action, resource string
		keys                   []string
		want                   string
	}{
		{"pooled-stream", "dynamodb:GetRecords", pooledStreamL, nil, iamsim.Allowed},
		{"pooled-shards", "dynamodb:GetShardIterator", pooledStreamL, nil, iamsim.Allowed},
		{"dedicated-stream", "dynamodb:GetRecords", dedicatedTable + "/stream/2026-01-01T00:00:00.000", nil, iamsim.Allowed},
		{"other-stage-stream", "dynamodb:GetRecords", "arn:aws:dynamodb:us-east-1:" + simAccount + ":table/tessera-prod-tenant-t-ab/stream/2026-01-01T00:00:00.000", nil, iamsim.ImplicitlyDenied},
		{"pooled-items", "dynamodb:Query", pooledTable, []string{"t-ab#PRODUCT"}, iamsim.ImplicitlyDenied},
		{"pooled-item", "dynamodb:GetItem", pooledTable, []string{"t-ab#PRODUCT"}, iamsim.ImplicitlyDenied},
		{"dedicated-item", "dynamodb:GetItem", dedicatedTable, []string{"t-ab#PRODUCT"}, iamsim.ImplicitlyDenied},
		{"pooled-scan", "dynamodb:Scan", pooledTable, nil, iamsim.ImplicitlyDenied},
		{"backup-write", "s3:PutObject", backupObject, nil, iamsim.ImplicitlyDenied},
		{"backup-read", "s3:GetObject", backupObject, nil, iamsim.ImplicitlyDenied},
		{"tenant-key", "kms:GenerateDataKey", "arn:aws:kms:us-east-1:" + simAccount + ":key/00000000-0000-0000-0000-000000000000", nil, iamsim.ImplicitlyDenied},
		{"tenant-record", "dynamodb:GetItem", simCatalog, []string{"TENANT#t-ab"}, iamsim.Allowed},
	}
	var reqs []iamsim.Request
	var wants []string
	for _, c := range cases {
		ctx := map[string]any{}
		if c.keys != nil {
			ctx["dynamodb:LeadingKeys"] = c.keys
		}
		reqs = append(reqs, iamsim.Request{Name: c.name, IdentityPolicies: []json.RawMessage{pol},
			Principal: "arn:aws:sts::" + simAccount + ":assumed-role/Tessera-test-ChangefeedFunctionRole/changefeed",
			Action:    c.action, Resource: c.resource, AccountID: simAccount, Context: ctx})
		wants = append(wants, c.want)
	}
	results, err := iamsim.Run(iamsim.Script(t), reqs)
	if err != nil {
		t.Fatal(err)
	}
	iamsim.Check(t, reqs, results, wants)
}

var cfnRef = regexp.MustCompile(`\$\{[^}]+\}`)

// placeholders completes refs with a distinct literal ARN for every other
// CloudFormation reference in stmts (the catalog table's is simCatalog),
// for literal.
func placeholders(t *testing.T, stmts []any, refs map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range refs {
		out[k] = v
	}
	for i, r := range cfnRef.FindAllString(jsonOf(normPolicy(map[string]any{"Statement": stmts})), -1) {
		if _, ok := out[r]; ok || strings.HasPrefix(r, "${AWS::") || strings.HasPrefix(r, "${aws:") {
			continue
		}
		if strings.Contains(r, "CatalogTable") {
			out[r] = simCatalog
			continue
		}
		out[r] = "arn:aws:iam::" + simAccount + ":placeholder/" + strconv.Itoa(i)
	}
	return out
}

// TestTenantStackChangeFeedMapping checks TenantStack's mapping: created
// only under ConditionChangeFeed (ChangeFeedFunctionArn and ChangeFeedDLQArn
// not empty), from the table's stream to that function, with the pooled
// mapping's settings and ChangeFeedDLQArn as on-failure destination; the
// rule that refuses a function without a queue; and the two parameters:
// empty by default, otherwise ARNs of their kind.
func TestTenantStackChangeFeedMapping(t *testing.T) {
	s := synth(t)
	tableID := s.TenantJSON.logicalID(t, "AWS::DynamoDB::Table", "Table")
	mappingID := s.TenantJSON.logicalID(t, "AWS::Lambda::EventSourceMapping", "ChangeFeed")
	m := s.TenantJSON.resources("AWS::Lambda::EventSourceMapping")[mappingID]
	if m["Condition"] != tenantstack.ConditionChangeFeed {
		t.Errorf("mapping Condition = %v, want %s", m["Condition"], tenantstack.ConditionChangeFeed)
	}
	conds, _ := s.TenantJSON["Conditions"].(map[string]any)
	set := func(param string) map[string]any {
		return map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{ref(param), ""}}}}
	}
	wantCond := map[string]any{"Fn::And": []any{set(tenantstack.ParamChangeFeedFunctionArn), set(tenantstack.ParamChangeFeedDLQArn)}}
	if got := jsonOf(conds[tenantstack.ConditionChangeFeed]); got != jsonOf(wantCond) {
		t.Errorf("condition %s = %s, want %s", tenantstack.ConditionChangeFeed, got, jsonOf(wantCond))
	}
	// A function ARN without a dead-letter queue is refused, rather than
	// leaving the table without a feed (the emulators ignore rules).
	rules, _ := s.TenantJSON["Rules"].(map[string]any)
	wantRule := map[string]any{
		"RuleCondition": set(tenantstack.ParamChangeFeedFunctionArn),
		"Assertions": []any{map[string]any{
			"Assert":            set(tenantstack.ParamChangeFeedDLQArn),
			"AssertDescription": tenantstack.ParamChangeFeedDLQArn + " is required with " + tenantstack.ParamChangeFeedFunctionArn,
		}},
	}
	if got := jsonOf(rules[tenantstack.RuleChangeFeedNeedsDLQ]); got != jsonOf(wantRule) {
		t.Errorf("rule %s = %s, want %s", tenantstack.RuleChangeFeedNeedsDLQ, got, jsonOf(wantRule))
	}
	p := props(m)
	for k, want := range map[string]any{
		"FunctionName":      ref(tenantstack.ParamChangeFeedFunctionArn),
		"EventSourceArn":    map[string]any{"Fn::GetAtt": getAtt(tableID, "StreamArn")},
		"DestinationConfig": map[string]any{"OnFailure": map[string]any{"Destination": ref(tenantstack.ParamChangeFeedDLQArn)}},
	} {
		if jsonOf(p[k]) != jsonOf(want) {
			t.Errorf("%s = %s, want %s", k, jsonOf(p[k]), jsonOf(want))
		}
	}
	checkMappingSettings(t, p, "FunctionName", "EventSourceArn", "DestinationConfig")
	// Nothing else in the template depends on the condition's resource.
	for id, r := range s.TenantJSON["Resources"].(map[string]any) {
		if id != mappingID && strings.Contains(jsonOf(r), mappingID) {
			t.Errorf("%s refers to the conditional mapping %s", id, mappingID)
		}
	}
	if strings.Contains(jsonOf(s.TenantJSON["Outputs"]), mappingID) {
		t.Errorf("an output refers to the conditional mapping %s", mappingID)
	}

	params, _ := s.TenantJSON["Parameters"].(map[string]any)
	for _, tc := range []struct {
		param    string
		match    []string
		mismatch []string
	}{
		{tenantstack.ParamChangeFeedFunctionArn,
			[]string{"", "arn:aws:lambda:us-east-1:123456789012:function:Tessera-dev-App-ChangefeedFunctionA8450CD2-AbCdEf123456", "arn:aws-cn:lambda:cn-north-1:123456789012:function:f"},
			[]string{" ", "f", "arn:aws:lambda:us-east-1:123456789012:function:f:live", "arn:aws:sqs:us-east-1:123456789012:q", "arn:aws:lambda:us-east-1:12345678901:function:f"}},
		{tenantstack.ParamChangeFeedDLQArn,
			[]string{"", "arn:aws:sqs:us-east-1:123456789012:Tessera-dev-Data-ChangeFeedDLQE79D28DC-AbCdEf123456"},
			[]string{" ", "q", "https://sqs.us-east-1.amazonaws.com/123456789012/q", "arn:aws:lambda:us-east-1:123456789012:function:f"}},
	} {
		p, _ := params[tc.param].(map[string]any)
		if p["Type"] != "String" || p["Default"] != "" {
			t.Errorf("parameter %s = %s, want a String defaulting to empty", tc.param, jsonOf(p))
		}
		pattern, _ := p["AllowedPattern"].(string)
		re, err := regexp.Compile(pattern)
		if err != nil {
			t.Errorf("parameter %s: AllowedPattern %q: %v", tc.param, pattern, err)
			continue
		}
		for _, v := range tc.match {
			if !re.MatchString(v) {
				t.Errorf("parameter %s refuses %q", tc.param, v)
			}
		}
		for _, v := range tc.mismatch {
			if re.MatchString(v) {
				t.Errorf("parameter %s accepts %q", tc.param, v)
			}
		}
	}
}
