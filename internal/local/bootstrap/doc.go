// Package bootstrap owns the idempotent creation of what the app needs on
// whatever AWS endpoint it is given (the local emulator, LocalStack, or an
// account without the CDK stacks): the pooled data table (with a
// NEW_AND_OLD_IMAGES stream, which the tenant change feed reads; a pooled
// table made before without one gets it), the tenant catalog table, the Cognito user pool with its immutable custom attributes tenantId
// and role, its app client and operators group, the event bus, the export
// bucket with one export queue per tier, and the backup bucket with the
// CDK app's lifecycle rules (internal/platform/retention). Running it twice
// changes nothing.
//
// In AWS the CDK app in infra/ creates the same resources; bootstrap exists so
// that a laptop needs no deploy.
package bootstrap
