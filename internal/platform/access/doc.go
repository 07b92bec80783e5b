// Package access owns tenant-scoped AWS access and the names IAM keys on:
// the IAM policy of a stage's TenantDataAccessRole as Go data (the CDK
// stack and the policy tests use this one value), the key policy of a
// tenant's KMS key, the provisioner's control-plane policy, the export
// bucket's encryption rules, the policies of the backup bucket's
// replication to the DR Region (the replication role's and the replica
// key's), the key-prefix condition that confines a
// function's own item writes, and the per-tenant credentials obtained by
// assuming that role with the session tag tenantId=<id>, cached until
// shortly before they expire.
//
// Every name and pattern carries the stage (DedicatedTable, KeyAlias, the
// stage tag), so that stages sharing an account cannot reach each other's
// tenants. Package iamsim evaluates these policies in tests.
//
// See https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html
package access
