// Package provision owns the control plane's background work: onboarding a
// tenant (its KMS key, its placement — the pooled table, or a dedicated
// table from a TenantStack created with CloudFormation —, its admin user)
// and offboarding it (users, data, stack, key), driven by events from the
// provisioning queue. Every step is idempotent and every state change is a
// conditional write, so a duplicated event, a retry after a crash between
// any two steps, or two provisioners racing end in one key, one stack, one
// admin user and one final state. A per-tenant lease in the catalog, owned
// by one message of one process and renewed while its steps run, keeps two
// workers (or two messages of one batch) from interleaving steps. Work that
// must wait goes back to the queue as a delayed re-check; work that fails
// for good ends FAILED or OFFBOARD_FAILED with a stable reason, an audit
// entry and an event.
package provision
