// Package migrations owns the data migrations of tenants' items, numbered
// and named, as code: each has an Up that brings one item of a tenant to
// the new format, an optional Down that brings it back, and the
// idempotency rule that a step applied to an item already in its target
// format writes nothing. The fleet runner (internal/control/fleet) walks a
// tenant's partition with the tenant's own scoped credentials, calls the
// step on every item and records a checkpoint (the last key processed), so
// a crashed run resumes where it stopped.
//
// Migrations follow expand/contract: the code deployed before a migration
// rolls out reads and writes both formats (internal/platform/store), so the
// tenant's API keeps working while some of its items are in the old format
// and some in the new one. A contract step (dropping what only the old
// format needed) is a later migration, once every tenant has this one.
//
// A new migration is appended to All with the next number; numbers are
// never reused or reordered. Onboarding records Latest on a new tenant
// (catalog.Record.Schema): its items are born in the latest format.
package migrations
