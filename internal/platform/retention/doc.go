// Package retention owns how long the backup bucket keeps what it holds:
// its lifecycle rules, one per tier from the tier's plan
// (plan.Limits.BackupRetentionDays, matched by the objects' tier tag
// recovery.TierTag) and a catch-all at the longest retention, so that no
// object is kept forever. The CDK app (infra) and the local bootstrap
// (internal/local/bootstrap) both translate BackupRules into their own
// form; neither writes a number of days of its own.
//
// See https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lifecycle-mgmt.html
package retention
