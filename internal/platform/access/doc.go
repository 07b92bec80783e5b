// Package access owns tenant-scoped AWS access: the IAM policy of
// TenantDataAccessRole as Go data (the CDK stack and the policy tests use
// this one value), the key policy of a tenant's KMS key, the key-prefix
// condition that confines a function's own item writes, and the per-tenant
// credentials obtained by assuming that role with the session tag
// tenantId=<id>, cached until shortly before they expire.
//
// See https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html
package access
