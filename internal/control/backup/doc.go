// Package backup owns per-tenant backup and point-in-time restore: snapshots
// of one tenant's items written to the backup bucket under the tenant's
// prefix and key, their listing, the schedule that takes them per tier, and
// restores that rebuild a tenant's items as they were at a given time from
// the newest snapshot before it and the tenant's change log
// (internal/control/changefeed), in place (the tenant is read-only
// meanwhile) or into a new tenant.
//
// Every read and write of tenant data and backups uses the tenant's own
// scoped credentials; a restore reads and writes only the partitions of the
// tenant it restores (or of its clone). Jobs are recorded in the catalog and
// advance phase by phase (recovery.Phase); each phase is idempotent, so a
// run interrupted anywhere resumes where its job says. The copy, checksum
// and change-replay machinery (Items, Checksum, Replay) is shared with tier
// migration.
package backup
