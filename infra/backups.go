package main

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/retention"
)

// Per-tenant backups (internal/control/backup): the backup bucket holds each
// tenant's change log and snapshots, kept per tier by lifecycle rules; the
// provisioner takes the snapshots, on request and on a schedule.

// newBackupBucket defines the bucket of the tenants' change logs and
// snapshots, each under its tenant's prefix ("<tenantId>/") and written by
// that tenant's scoped session (access.Resources.BackupBucketARN). As in the
// export bucket, every object is SSE-KMS under the tenant's own key: the
// bucket policy refuses any PutObject that does not ask for SSE-KMS with a
// key ARN of this account and Region (access.ExportBucketPolicy, which
// names no bucket of its own), and KMS lets a tenant session use only its
// own key; the default encryption (S3-managed keys) would only cover what
// arrives without, which the policy refuses. Offboarding deletes the
// tenant's key, which shreds its log.
//
// Every object is tagged with its tenant's tier (recovery.TierTag) and
// expires after that tier's retention (backupLifecycleRules); tenant
// sessions cannot delete. Versioned, so that an overwrite or a delete keeps
// the previous version for retention.NoncurrentDays, and so that it can be
// replicated to the DR Region (replicateBackups). Retained in prod; never
// emptied by CloudFormation.
func newBackupBucket(stack awscdk.Stack, cfg config) awss3.Bucket {
	return newTenantObjectBucket(stack, cfg, tenantBucket{ID: "BackupBucket", Versioned: true, Rules: backupLifecycleRules()})
}

// backupLifecycleRules are retention.BackupRules, the rules of the backup
// bucket and of its replica: one per tier, matched by the tier tag, that
// expires the tier's objects after plan.Limits.BackupRetentionDays; one for
// every object at the longest retention, so that an object without a tier
// tag is not kept forever (S3 applies the shortest of overlapping
// expirations); and one that removes expired delete markers.
func backupLifecycleRules() []*awss3.LifecycleRule {
	days := func(n int) awscdk.Duration { return awscdk.Duration_Days(jsii.Number(float64(n))) }
	var out []*awss3.LifecycleRule
	for _, r := range retention.BackupRules() {
		lr := &awss3.LifecycleRule{Id: jsii.String(r.ID)}
		if r.Tier != "" {
			lr.TagFilters = &map[string]any{recovery.TierTag: string(r.Tier)}
		}
		if r.ExpireDays > 0 {
			lr.Expiration = days(r.ExpireDays)
		}
		if r.NoncurrentDays > 0 {
			lr.NoncurrentVersionExpiration = days(r.NoncurrentDays)
		}
		if r.AbortUploadDays > 0 {
			lr.AbortIncompleteMultipartUploadAfter = days(r.AbortUploadDays)
		}
		if r.RemoveExpiredDeleteMarkers {
			lr.ExpiredObjectDeleteMarker = jsii.Bool(true)
		}
		out = append(out, lr)
	}
	return out
}

// backupScheduleRate is how often the schedule asks the provisioner for the
// backups that are due (backup.Service.ScheduleBackups): a tenant's
// snapshot starts at most this long after its tier's interval
// (plan.Limits.BackupInterval, an hour at the shortest) has passed.
const backupScheduleRate = 15 * time.Minute

// backupsDue is the detail-type of the schedule's event (bus.BackupsDue):
// the provisioner runs backup.Service.ScheduleBackups when it receives one.
// It names no tenant (the event is about every tenant), so its detail has
// only the schema version and a correlation id, the scheduled event's id.
const backupsDue = bus.BackupsDue

// backupsDueEvent is the schedule's event as the provisioning queue
// receives it: an EventBridge envelope, as the bus's rule delivers events
// there (bus.Envelope), built from the scheduled event's id, time, account
// and Region by an input transformer.
func backupsDueEvent() awsevents.RuleTargetInput {
	return awsevents.RuleTargetInput_FromObject(map[string]any{
		"version":     "0",
		"id":          awsevents.EventField_EventId(),
		"detail-type": string(backupsDue),
		"source":      bus.Source,
		"account":     awsevents.EventField_Account(),
		"time":        awsevents.EventField_Time(),
		"region":      awsevents.EventField_Region(),
		"detail": map[string]any{
			"schemaVersion": bus.SchemaVersion,
			"correlationId": awsevents.EventField_EventId(),
		},
	})
}

// scheduleBackups defines the rule that sends the provisioning queue a
// backupsDue event every backupScheduleRate. It is a rule of the account's
// default bus (schedules run only there), in the stack of the queue, whose
// policy lets the rule send to it. An event that cannot be delivered is
// dropped once the next is due: the next tick does the same work.
func scheduleBackups(stack awscdk.Stack, d *DataStack) awsevents.Rule {
	return awsevents.NewRule(stack, jsii.String("BackupSchedule"), &awsevents.RuleProps{
		Description: jsii.String("Ask the provisioner for the tenant backups that are due (plan.Limits.BackupInterval)"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(backupScheduleRate.Minutes()))),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSqsQueue(d.ProvisioningQueue, &awseventstargets.SqsQueueProps{
			Message:       backupsDueEvent(),
			RetryAttempts: jsii.Number(3),
			MaxEventAge:   awscdk.Duration_Minutes(jsii.Number(backupScheduleRate.Minutes())),
		})},
	})
}
