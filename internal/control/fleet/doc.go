// Package fleet owns rollouts across every tenant: a data migration
// (internal/control/migrations) or a TenantStack template version, planned
// in waves (canary tenants first, then waves of growing size, premium
// tenants last), applied with bounded concurrency, halted when a wave's
// failures cross the threshold, and rolled back (a migration's Down) in
// reverse wave order.
//
// Each tenant's state in a rollout is a store.FleetRun in the catalog:
// applying, applied, failed, rolling-back or rolled-back, who ran it, when,
// and the checkpoint a stopped run resumes from. A tenant is worked on by
// one runner at a time (the run's owner and its expiry), with the tenant's
// own scoped credentials, like the request path.
//
// The same Runner serves the CLI (`tessera fleet plan|apply|status|
// rollback`, in process) and, in AWS, the fleet Lambda that the CDK app's
// Step Functions state machine drives: Plan gives the waves, and a
// Distributed Map runs ApplyTenant per tenant with MaxConcurrency and
// ToleratedFailurePercentage, with an approval between waves.
package fleet
