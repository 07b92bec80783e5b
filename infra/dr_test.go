package main

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/platform/access"
)

// The test app is environment-agnostic, so its DR Region is the default,
// paired with us-east-1.
const testDRRegion = "us-west-2"

// Names of the test stage's DR resources as the templates render them.
var (
	testReplicaBucket = "tessera-" + testStage + "-backups-dr-${AWS::AccountId}-" + testDRRegion
	testReplRoleName  = "tessera-" + testStage + "-backup-replication"
)

// TestDRStack checks the DR stack: in the DR Region; a replica key with
// rotation, its alias, and access.ReplicaKeyPolicy (the account
// administers, the replication role encrypts through S3 there, nobody
// decrypts); and the replica bucket, named for the account and Region,
// private, TLS only, versioned, refusing uploads without SSE-KMS under a key
// of its own Region (its lifecycle rules: TestBackupLifecycleRules).
func TestDRStack(t *testing.T) {
	s := synth(t)
	dr := s.Stacks.DR
	if dr == nil {
		t.Fatal("no DR stack")
	}
	if got := *dr.Stack.Region(); got != testDRRegion {
		t.Errorf("DR stack Region %s, want %s", got, testDRRegion)
	}
	if got := *dr.Stack.StackName(); got != "Tessera-"+testStage+"-DR" {
		t.Errorf("DR stack name %s", got)
	}

	keyID := s.DRJSON.logicalID(t, "AWS::KMS::Key", "ReplicaKey")
	key := props(s.DRJSON.resources("AWS::KMS::Key")[keyID])
	if key["EnableKeyRotation"] != true {
		t.Errorf("EnableKeyRotation = %v", key["EnableKeyRotation"])
	}
	want := normPolicy(access.ReplicaKeyPolicy(access.ReplicationResources{
		Stage: testStage, Partition: "aws", Account: "${AWS::AccountId}", URLSuffix: "${AWS::URLSuffix}",
		ReplicaRegion: testDRRegion, ReplicaBucketARN: "arn:aws:s3:::" + testReplicaBucket,
	}).Map())
	if got := normPolicy(key["KeyPolicy"]); !reflect.DeepEqual(got, want) {
		t.Errorf("replica key policy\n got  %s\n want %s", jsonOf(got), jsonOf(want))
	}
	// Whatever the statements: nobody decrypts, and only the replication
	// role encrypts.
	for _, st := range list(key["KeyPolicy"].(map[string]any)["Statement"]) {
		st := st.(map[string]any)
		for _, a := range strs(st["Action"]) {
			if actionMatches(a, "kms:Decrypt") || actionMatches(a, "kms:CreateGrant") || actionMatches(a, "kms:ReEncryptFrom") {
				t.Errorf("%v grants %s: %s", st["Sid"], a, jsonOf(st))
			}
			if actionMatches(a, "kms:Encrypt") && !strings.Contains(jsonOf(st["Condition"]), ":role/"+testReplRoleName) {
				t.Errorf("%v grants %s to others than the replication role: %s", st["Sid"], a, jsonOf(st))
			}
		}
	}
	check(t, "alias", func() {
		s.DR.HasResourceProperties(jsii.String("AWS::KMS::Alias"), map[string]any{
			"AliasName": access.ReplicaKeyAlias(testStage), "TargetKeyId": getAttArn(keyID),
		})
	})

	bucketID := s.DRJSON.logicalID(t, "AWS::S3::Bucket", "ReplicaBucket")
	b := props(s.DRJSON.resources("AWS::S3::Bucket")[bucketID])
	if got := flatten(b["BucketName"]); got != testReplicaBucket {
		t.Errorf("BucketName = %s, want %s", got, testReplicaBucket)
	}
	if len(testReplicaBucket)-len("${AWS::AccountId}")+12 > 63 {
		t.Errorf("bucket name %s is longer than 63 characters with a 12-digit account", testReplicaBucket)
	}
	for k, want := range map[string]any{
		"VersioningConfiguration": map[string]any{"Status": "Enabled"},
		"PublicAccessBlockConfiguration": map[string]any{
			"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
		},
		"OwnershipControls": map[string]any{"Rules": []any{map[string]any{"ObjectOwnership": "BucketOwnerEnforced"}}},
	} {
		if jsonOf(b[k]) != jsonOf(want) {
			t.Errorf("%s = %s, want %s", k, jsonOf(b[k]), jsonOf(want))
		}
	}
	var got []any
	for _, bp := range s.DRJSON.resources("AWS::S3::BucketPolicy") {
		if jsonOf(props(bp)["Bucket"]) == jsonOf(ref(bucketID)) {
			got = append(got, normPolicy(props(bp)["PolicyDocument"]).(map[string]any)["Statement"].([]any)...)
		}
	}
	wantStmts := normPolicy(access.ExportBucketPolicy("${"+bucketID+".Arn}", "aws", testDRRegion, "${AWS::AccountId}").Map()).(map[string]any)["Statement"].([]any)
	for _, w := range wantStmts {
		if !slices.ContainsFunc(got, func(g any) bool { return reflect.DeepEqual(g, w) }) {
			t.Errorf("replica bucket policy lacks %s\n has %s", jsonOf(w), jsonOf(got))
		}
	}
	if !strings.Contains(jsonOf(got), `"aws:SecureTransport":["false"]`) {
		t.Errorf("replica bucket policy has no TLS-only statement: %s", jsonOf(got))
	}
	check(t, "outputs", func() {
		s.DR.HasOutput(jsii.String("ReplicaBucketName"), map[string]any{"Value": ref(bucketID)})
		s.DR.HasOutput(jsii.String("ReplicaKeyArn"), map[string]any{"Value": getAttArn(keyID)})
	})
}

// TestBackupReplication checks the backup bucket's replication: one rule
// for the whole bucket, delete markers and SSE-KMS objects included, to the
// DR stack's replica bucket, replicas under the DR stack's key (by its
// alias), no Replication Time Control outside prod; the replication role,
// named as the tenant key policies and the replica key's name it, assumed
// by S3 only, with access.BackupReplicationPolicy and nothing else; the
// Data stack deploys after the DR stack; and a rule keeps the
// environment-agnostic Data stack out of any Region but the one the
// default DR Region pairs with.
func TestBackupReplication(t *testing.T) {
	s := synth(t)
	bucketID := s.DataJSON.logicalID(t, "AWS::S3::Bucket", "BackupBucket")
	roleID := s.DataJSON.logicalID(t, "AWS::IAM::Role", "BackupReplicationRole")
	repl, _ := props(s.DataJSON.resources("AWS::S3::Bucket")[bucketID])["ReplicationConfiguration"].(map[string]any)
	if got := flatten(repl["Role"]); got != "${"+roleID+".Arn}" {
		t.Errorf("replication Role = %s, want the replication role", got)
	}
	rules := list(repl["Rules"])
	if len(rules) != 1 {
		t.Fatalf("replication rules: %s, want one", jsonOf(rules))
	}
	rule := rules[0].(map[string]any)
	dest, _ := rule["Destination"].(map[string]any)
	for k, want := range map[string]any{
		"Status":                  "Enabled",
		"Filter":                  map[string]any{"Prefix": ""},
		"DeleteMarkerReplication": map[string]any{"Status": "Enabled"},
		"SourceSelectionCriteria": map[string]any{"SseKmsEncryptedObjects": map[string]any{"Status": "Enabled"}},
	} {
		if jsonOf(rule[k]) != jsonOf(want) {
			t.Errorf("rule %s = %s, want %s", k, jsonOf(rule[k]), jsonOf(want))
		}
	}
	if got, want := flatten(dest["Bucket"]), "arn:${AWS::Partition}:s3:::"+testReplicaBucket; got != want {
		t.Errorf("destination %s, want %s", got, want)
	}
	enc, _ := dest["EncryptionConfiguration"].(map[string]any)
	if got, want := flatten(enc["ReplicaKmsKeyID"]), "arn:${AWS::Partition}:kms:"+testDRRegion+":${AWS::AccountId}:"+access.ReplicaKeyAlias(testStage); got != want {
		t.Errorf("ReplicaKmsKeyID = %s, want %s", got, want)
	}
	if dest["ReplicationTime"] != nil || dest["Metrics"] != nil {
		t.Errorf("Replication Time Control on outside prod: %s", jsonOf(dest))
	}
	// The replica bucket of the DR stack is that destination.
	drBucket := props(s.DRJSON.resources("AWS::S3::Bucket")[s.DRJSON.logicalID(t, "AWS::S3::Bucket", "ReplicaBucket")])
	if got := flatten(drBucket["BucketName"]); !strings.HasSuffix(flatten(dest["Bucket"]), ":::"+got) {
		t.Errorf("destination %s is not the DR stack's bucket %s", flatten(dest["Bucket"]), got)
	}

	role := props(s.DataJSON.resources("AWS::IAM::Role")[roleID])
	if role["RoleName"] != testReplRoleName || access.BackupReplicationRoleName(testStage) != testReplRoleName {
		t.Errorf("replication role name %v, want %s (the name the key policies give)", role["RoleName"], testReplRoleName)
	}
	if got, want := jsonOf(normPolicy(role["AssumeRolePolicyDocument"])),
		jsonOf(map[string]any{"Statement": []any{map[string]any{"Action": []any{"sts:AssumeRole"}, "Effect": "Allow", "Principal": map[string]any{"Service": []any{"s3.amazonaws.com"}}}},
			"Version": "2012-10-17"}); got != want {
		t.Errorf("replication role trust %s, want %s", got, want)
	}
	if role["ManagedPolicyArns"] != nil || role["Policies"] != nil {
		t.Errorf("replication role has other policies: %s", jsonOf(role))
	}
	wantPol := normPolicy(access.BackupReplicationPolicy(access.ReplicationResources{
		Stage: testStage, Partition: "${AWS::Partition}", Account: "${AWS::AccountId}", URLSuffix: "${AWS::URLSuffix}",
		SourceRegion: "${AWS::Region}", SourceBucketARN: "${" + bucketID + ".Arn}",
		ReplicaRegion: testDRRegion, ReplicaBucketARN: "arn:${AWS::Partition}:s3:::" + testReplicaBucket,
	}).Map())
	gotPol := normPolicy(map[string]any{"Version": "2012-10-17", "Statement": toAny(roleStatements(s.DataJSON, roleID))})
	if !reflect.DeepEqual(gotPol, wantPol) {
		t.Errorf("replication role policy\n got  %s\n want %s", jsonOf(gotPol), jsonOf(wantPol))
	}

	deps := s.Stacks.Data.Stack.Dependencies()
	if !slices.ContainsFunc(*deps, func(st awscdk.Stack) bool { return *st.StackName() == *s.Stacks.DR.Stack.StackName() }) {
		t.Errorf("the Data stack does not depend on the DR stack")
	}

	rulesSection, _ := s.DataJSON["Rules"].(map[string]any)
	regionRule, _ := rulesSection["BackupReplicaRegion"].(map[string]any)
	want := []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "AWS::Region"}, defaultPrimaryRegion}}}
	var asserts []any
	for _, a := range list(regionRule["Assertions"]) {
		asserts = append(asserts, a.(map[string]any)["Assert"])
	}
	if jsonOf(asserts) != jsonOf(want) {
		t.Errorf("Data stack rule BackupReplicaRegion asserts %s, want %s", jsonOf(asserts), jsonOf(want))
	}
}

// toAny converts statements to a list of generic values.
func toAny(stmts []map[string]any) []any {
	out := make([]any, len(stmts))
	for i, st := range stmts {
		out[i] = st
	}
	return out
}

// TestReplicationTimeControl: with Replication Time Control, the rule's
// destination asks for replication within 15 minutes, with metrics and an
// event past 15 minutes; without it, neither.
func TestReplicationTimeControl(t *testing.T) {
	for _, tc := range []struct {
		id  string
		rtc bool
	}{{"On", true}, {"Off", false}} {
		stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Replication"+tc.id), nil)
		awss3.NewCfnBucket(stack, jsii.String("Bucket"), &awss3.CfnBucketProps{
			ReplicationConfiguration: backupReplication(jsii.String("arn:aws:iam::123456789012:role/r"), "arn:aws:s3:::replica", "arn:aws:kms:us-west-2:123456789012:alias/k", tc.rtc),
		})
		tmpl := assertions.Template_FromStack(stack, nil)
		dest := map[string]any{
			"Bucket": "arn:aws:s3:::replica", "EncryptionConfiguration": map[string]any{"ReplicaKmsKeyID": "arn:aws:kms:us-west-2:123456789012:alias/k"},
		}
		if tc.rtc {
			dest["ReplicationTime"] = map[string]any{"Status": "Enabled", "Time": map[string]any{"Minutes": 15}}
			dest["Metrics"] = map[string]any{"Status": "Enabled", "EventThreshold": map[string]any{"Minutes": 15}}
		}
		check(t, tc.id, func() {
			tmpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), map[string]any{
				"ReplicationConfiguration": map[string]any{
					"Role": "arn:aws:iam::123456789012:role/r",
					"Rules": []any{assertions.Match_ObjectLike(&map[string]any{
						"Destination": assertions.Match_ObjectEquals(&dest),
					})},
				},
			})
		})
	}
}

// TestDRConfig checks how the contexts drRegion and
// drReplicationTimeControl, and the primary Region, set the DR
// configuration.
func TestDRConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		context map[string]any
		primary string
		prod    bool
		want    *drConfig
		wantErr string
	}{
		{name: "agnostic-default", want: &drConfig{Region: "us-west-2", Defaulted: true}},
		{name: "us-east-1-default", primary: "us-east-1", want: &drConfig{Region: "us-west-2", PrimaryRegion: "us-east-1", Defaulted: true}},
		{name: "us-west-2-default", primary: "us-west-2", want: &drConfig{Region: "us-east-1", PrimaryRegion: "us-west-2", Defaulted: true}},
		{name: "eu-default-stays-in-eu", primary: "eu-west-1", want: &drConfig{Region: "eu-central-1", PrimaryRegion: "eu-west-1", Defaulted: true}},
		{name: "no-default", primary: "sa-east-1", wantErr: "no default DR Region for sa-east-1"},
		{name: "explicit", primary: "sa-east-1", context: map[string]any{ctxDRRegion: "us-east-1"},
			want: &drConfig{Region: "us-east-1", PrimaryRegion: "sa-east-1"}},
		{name: "explicit-agnostic", context: map[string]any{ctxDRRegion: "eu-west-1"}, want: &drConfig{Region: "eu-west-1"}},
		{name: "off", primary: "us-east-1", context: map[string]any{ctxDRRegion: drOff}},
		{name: "same-region", primary: "us-west-2", context: map[string]any{ctxDRRegion: "us-west-2"}, wantErr: "is the primary Region"},
		{name: "not-a-region", context: map[string]any{ctxDRRegion: "west"}, wantErr: "must be an AWS Region"},
		{name: "prod-rtc", prod: true, want: &drConfig{Region: "us-west-2", Defaulted: true, ReplicationTimeControl: true}},
		{name: "prod-rtc-off", prod: true, context: map[string]any{ctxDRReplicationTimeControl: "false"},
			want: &drConfig{Region: "us-west-2", Defaulted: true}},
		{name: "dev-rtc-on", context: map[string]any{ctxDRReplicationTimeControl: true},
			want: &drConfig{Region: "us-west-2", Defaulted: true, ReplicationTimeControl: true}},
		{name: "rtc-not-bool", context: map[string]any{ctxDRReplicationTimeControl: "sometimes"}, wantErr: "must be true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.context
			if ctx == nil {
				ctx = map[string]any{}
			}
			app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
			got, err := drFrom(app, contextStrings(app), tc.primary, tc.prod)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("drFrom = %+v, want %+v", got, tc.want)
			}
		})
	}
}
