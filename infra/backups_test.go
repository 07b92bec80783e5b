package main

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// wantBackupRules are the lifecycle rules the backup bucket and its replica
// must have: per tier, its objects (tier tag) expire after the plan's
// BackupRetentionDays, noncurrent versions a day later; every object after
// 35 days (the longest retention), so that an untagged one is not kept
// forever; and expired delete markers go.
func wantBackupRules(t *testing.T) []any {
	t.Helper()
	var rules []any
	for _, tier := range plan.Tiers {
		l, ok := plan.For(tier)
		if !ok || l.BackupRetentionDays <= 0 {
			t.Fatalf("plan %s: BackupRetentionDays = %d", tier, l.BackupRetentionDays)
		}
		rules = append(rules, map[string]any{
			"Id": "ExpireBackups-" + string(tier), "Status": "Enabled",
			"TagFilters":                  []any{map[string]any{"Key": recovery.TierTag, "Value": string(tier)}},
			"ExpirationInDays":            l.BackupRetentionDays,
			"NoncurrentVersionExpiration": map[string]any{"NoncurrentDays": 1},
		})
	}
	return append(rules,
		map[string]any{
			"Id": "ExpireBackups-any", "Status": "Enabled", "ExpirationInDays": 35,
			"NoncurrentVersionExpiration":    map[string]any{"NoncurrentDays": 1},
			"AbortIncompleteMultipartUpload": map[string]any{"DaysAfterInitiation": 1},
		},
		map[string]any{"Id": "RemoveExpiredDeleteMarkers", "Status": "Enabled", "ExpiredObjectDeleteMarker": true},
	)
}

// TestBackupLifecycleRules checks the lifecycle rules of the backup bucket
// and of its replica in the DR stack against the plans (basic 7 days,
// standard 14, premium 35), and that the export bucket kept its own.
func TestBackupLifecycleRules(t *testing.T) {
	s := synth(t)
	want := jsonOf(map[string]any{"Rules": wantBackupRules(t)})
	for _, tc := range []struct {
		name   string
		tmpl   cfnTemplate
		prefix string
	}{
		{"backup bucket", s.DataJSON, "BackupBucket"},
		{"replica bucket", s.DRJSON, "ReplicaBucket"},
	} {
		id := tc.tmpl.logicalID(t, "AWS::S3::Bucket", tc.prefix)
		if got := jsonOf(props(tc.tmpl.resources("AWS::S3::Bucket")[id])["LifecycleConfiguration"]); got != want {
			t.Errorf("%s: LifecycleConfiguration\n got  %s\n want %s", tc.name, got, want)
		}
	}
	// Each tier's rule has its own plan's days.
	for _, tier := range plan.Tiers {
		l, _ := plan.For(tier)
		id := s.DataJSON.logicalID(t, "AWS::S3::Bucket", "BackupBucket")
		var found bool
		for _, r := range list(props(s.DataJSON.resources("AWS::S3::Bucket")[id])["LifecycleConfiguration"].(map[string]any)["Rules"]) {
			rule := r.(map[string]any)
			if jsonOf(rule["TagFilters"]) == jsonOf([]any{map[string]any{"Key": recovery.TierTag, "Value": string(tier)}}) {
				found = true
				if rule["ExpirationInDays"] != float64(l.BackupRetentionDays) {
					t.Errorf("tier %s: ExpirationInDays = %v, want the plan's %d", tier, rule["ExpirationInDays"], l.BackupRetentionDays)
				}
			}
		}
		if !found {
			t.Errorf("no lifecycle rule for tier %s", tier)
		}
	}

	exportID := s.DataJSON.logicalID(t, "AWS::S3::Bucket", "ExportBucket")
	wantExport := jsonOf(map[string]any{"Rules": []any{map[string]any{
		"Id": "ExpireExports", "Status": "Enabled", "ExpirationInDays": exportRetentionDays,
		"AbortIncompleteMultipartUpload": map[string]any{"DaysAfterInitiation": 1},
	}}})
	if got := jsonOf(props(s.DataJSON.resources("AWS::S3::Bucket")[exportID])["LifecycleConfiguration"]); got != wantExport {
		t.Errorf("export bucket: LifecycleConfiguration\n got  %s\n want %s", got, wantExport)
	}
}

// placeholder is an input transformer placeholder ("<id>").
var placeholder = regexp.MustCompile(`<([a-z]+)>`)

// TestBackupSchedule checks the backup schedule: a rule of the default bus
// that sends the provisioning queue, every 15 minutes (more often than the
// shortest backup interval), an EventBridge envelope of detail-type
// BackupsDue from the control plane's source, with the schema version and
// the scheduled event's id as correlation id, and no tenant; the queue's
// policy lets that rule, and no other schedule, send. Once the bus knows
// the detail-type, the event must parse as one.
func TestBackupSchedule(t *testing.T) {
	s := synth(t)
	queueID := s.DataJSON.logicalID(t, "AWS::SQS::Queue", "ProvisioningQueue")
	ruleID := s.DataJSON.logicalID(t, "AWS::Events::Rule", "BackupSchedule")
	rule := props(s.DataJSON.resources("AWS::Events::Rule")[ruleID])
	if rule["ScheduleExpression"] != "rate(15 minutes)" || rule["State"] != "ENABLED" || rule["EventBusName"] != nil {
		t.Errorf("rule: ScheduleExpression %v, State %v, EventBusName %v; want rate(15 minutes), ENABLED, the default bus",
			rule["ScheduleExpression"], rule["State"], rule["EventBusName"])
	}
	for _, tier := range plan.Tiers {
		if l, _ := plan.For(tier); backupScheduleRate >= l.BackupInterval {
			t.Errorf("schedule rate %v is not shorter than %s's backup interval %v", backupScheduleRate, tier, l.BackupInterval)
		}
	}
	targets := list(rule["Targets"])
	if len(targets) != 1 {
		t.Fatalf("rule has %d targets, want 1", len(targets))
	}
	target := targets[0].(map[string]any)
	if got := flatten(target["Arn"]); got != "${"+queueID+".Arn}" {
		t.Errorf("target %s, want the provisioning queue", got)
	}
	if target["DeadLetterConfig"] != nil {
		t.Errorf("target has a dead-letter queue %s: an undelivered tick is replaced by the next", jsonOf(target["DeadLetterConfig"]))
	}
	if got, want := jsonOf(target["RetryPolicy"]), jsonOf(map[string]any{"MaximumEventAgeInSeconds": 900, "MaximumRetryAttempts": 3}); got != want {
		t.Errorf("RetryPolicy = %s, want %s", got, want)
	}

	// The message: the template with the scheduled event's fields.
	tr, _ := target["InputTransformer"].(map[string]any)
	paths, _ := tr["InputPathsMap"].(map[string]any)
	tmpl, _ := tr["InputTemplate"].(string)
	scheduled := map[string]string{
		"$.id": "7bf73129-1428-4cd3-a780-95db273d1602", "$.time": "2026-12-02T03:15:00Z",
		"$.account": "123456789012", "$.region": "us-east-1",
	}
	body := placeholder.ReplaceAllStringFunc(tmpl, func(p string) string {
		path, _ := paths[strings.Trim(p, "<>")].(string)
		v, ok := scheduled[path]
		if !ok {
			t.Errorf("placeholder %s reads %q, not a field of a scheduled event", p, path)
		}
		return jsonOf(v) // EventBridge inserts a string value quoted
	})
	var env struct {
		Version    string          `json:"version"`
		ID         string          `json:"id"`
		DetailType string          `json:"detail-type"`
		Source     string          `json:"source"`
		Time       time.Time       `json:"time"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatalf("the message is not JSON: %v\n%s", err, body)
	}
	if env.DetailType != "BackupsDue" || env.Source != bus.Source || env.ID != scheduled["$.id"] || !env.Time.Equal(time.Date(2026, 12, 2, 3, 15, 0, 0, time.UTC)) {
		t.Errorf("message %s: want detail-type BackupsDue, source %s, the scheduled event's id and time", body, bus.Source)
	}
	if got, want := string(env.Detail), jsonOf(map[string]any{"correlationId": scheduled["$.id"], "schemaVersion": bus.SchemaVersion}); got != want {
		t.Errorf("detail = %s, want %s (no tenant: the event is about all of them)", got, want)
	}
	if _, err := bus.Parse([]byte(body)); err != nil {
		t.Errorf("the bus does not accept the schedule's message: %v\n%s", err, body)
	}

	// The queue policy lets this rule send (and the bus's rule).
	var allowed []string
	for _, qp := range s.DataJSON.resources("AWS::SQS::QueuePolicy") {
		if !strings.Contains(jsonOf(props(qp)["Queues"]), queueID) {
			continue
		}
		for _, st := range list(props(qp)["PolicyDocument"].(map[string]any)["Statement"]) {
			st := st.(map[string]any)
			if st["Effect"] == "Allow" && jsonOf(st["Principal"]) == `{"Service":"events.amazonaws.com"}` {
				cond, _ := st["Condition"].(map[string]any)
				arnEquals, _ := cond["ArnEquals"].(map[string]any)
				allowed = append(allowed, flatten(arnEquals["aws:SourceArn"]))
			}
		}
	}
	if !slices.Contains(allowed, "${"+ruleID+".Arn}") {
		t.Errorf("the provisioning queue's policy lets %v send, not the backup schedule", allowed)
	}
}

// TestBackupFunctions checks what the functions that back up and restore
// get: the provisioner (snapshots, restores and the schedule) and the
// tenants function (snapshot lists, restore checks) know the backup bucket
// and TenantDataAccessRole, may assume that role with a tenant tag (and are
// trusted by it: TestDataAccessRoleIsAccessPolicy), and have no S3 or KMS
// permission of their own: they reach the bucket only in tenant sessions.
// The provisioner may list the tenants (the catalog's list index).
func TestBackupFunctions(t *testing.T) {
	s := synth(t)
	bucketID := s.DataJSON.logicalID(t, "AWS::S3::Bucket", "BackupBucket")
	dataRoleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", "TenantDataAccessRole")
	catalogID := s.DataJSON.logicalID(t, "AWS::DynamoDB::Table", "CatalogTable")
	for _, fn := range []string{string(functionProvisioner), "tenants"} {
		t.Run(fn, func(t *testing.T) {
			fnLogicalID := s.AppJSON.logicalID(t, "AWS::Lambda::Function", title(fn)+"Function")
			vars, _ := props(s.AppJSON.resources("AWS::Lambda::Function")[fnLogicalID])["Environment"].(map[string]any)["Variables"].(map[string]any)
			if got := flatten(vars[settings.EnvBackupBucket]); got != "${Data:"+bucketID+"}" {
				t.Errorf("%s = %s, want the backup bucket's name", settings.EnvBackupBucket, got)
			}
			if got := flatten(vars[settings.EnvDataAccessRoleARN]); got != "${"+dataRoleID+".Arn}" {
				t.Errorf("%s = %s, want TenantDataAccessRole's ARN", settings.EnvDataAccessRoleARN, got)
			}
			roleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", title(fn)+"FunctionRole")
			var assumes, index bool
			for _, st := range roleStatements(s.AppJSON, roleID) {
				acts := strs(st["Action"])
				for _, a := range acts {
					if strings.HasPrefix(a, "s3:") || (strings.HasPrefix(a, "kms:") && fn != string(functionProvisioner)) {
						t.Errorf("%s grants %s of its own: %s", fn, a, jsonOf(st))
					}
				}
				if slices.Contains(acts, "sts:AssumeRole") && slices.Contains(acts, "sts:TagSession") &&
					slices.Equal(resourcesOf(st), []string{"${" + dataRoleID + ".Arn}"}) {
					assumes = true
				}
				if slices.Equal(acts, []string{"dynamodb:Query"}) && slices.Equal(resourcesOf(st), []string{"${Data:" + catalogID + ".Arn}/index/" + store.CatalogIndex}) {
					index = true
				}
			}
			if !assumes {
				t.Error("may not assume TenantDataAccessRole with a session tag")
			}
			if !index {
				t.Error("may not query the catalog's list index")
			}
		})
	}
	// The provisioner's KMS statements are its key management
	// (TestProvisionerPolicyIsAccessPolicy): none lets it use a key.
}
