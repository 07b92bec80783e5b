package recovery

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/entityid"
)

// Object layout of the backup bucket, under each tenant's own prefix (the
// data-access policy confines a tenant's session to "<tenant>/*"):
//
//	<tenant>/changes/<hour>/<table>-<first seq>-<last seq>.jsonl   change log (internal/control/changefeed)
//	<tenant>/snapshots/<snapshot id>/part-00000.jsonl               snapshot items, DynamoDB JSON, one per line
//	<tenant>/snapshots/<snapshot id>/manifest.json                  written last: a snapshot without one is incomplete
//	<tenant>/markers/<job id>                                       the feed has logged the job's marker item (FeedMarkerPartition)
//
// Snapshot ids sort by time, so a listing is in the order they were taken.

// SnapshotPrefix is the prefix of a tenant's snapshots.
func SnapshotPrefix(tenantID string) string { return tenantID + "/snapshots/" }

// FeedMarkerPartition is the partition ("<tenant>#FEEDMARK") of the marker
// items a restore or a migration writes, with its job id as the sort key,
// to learn that the change feed has logged every earlier change of the
// tenant's table: the feed, once it has logged a marker's insert with the
// changes before it, writes MarkerKey.
const FeedMarkerPartition = "FEEDMARK"

// MarkerKey is the object the change feed writes when it has logged the
// marker item id of the tenant.
func MarkerKey(tenantID, id string) string { return tenantID + "/markers/" + id }

// ManifestKey is the object key of a snapshot's manifest.
func ManifestKey(tenantID, snapshotID string) string {
	return SnapshotPrefix(tenantID) + snapshotID + "/manifest.json"
}

// PartKey is the object key of part n of a snapshot.
func PartKey(tenantID, snapshotID string, n int) string {
	return fmt.Sprintf("%s%s/part-%05d.jsonl", SnapshotPrefix(tenantID), snapshotID, n)
}

// TierTag is the object tag that carries the tier of the tenant an object
// belongs to: the backup bucket's lifecycle rules expire snapshots and
// change logs per tier (plan.Limits.BackupRetention).
const TierTag = "tessera-tier"

// Trigger says why a snapshot was taken.
type Trigger string

// Triggers.
const (
	TriggerSchedule   Trigger = "schedule"
	TriggerOperator   Trigger = "operator"
	TriggerPreRestore Trigger = "pre-restore"
)

// Partition is the item count and content checksum of one of a tenant's
// partitions (an entity: PRODUCT, ORDER...).
type Partition struct {
	Items    int64  `json:"items"`
	Checksum string `json:"checksum"`
}

// Part is one object of a snapshot.
type Part struct {
	Key    string `json:"key"`
	Items  int64  `json:"items"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// Snapshot is a snapshot's manifest.
type Snapshot struct {
	ID       string  `json:"snapshotId"`
	TenantID string  `json:"tenantId"`
	Tier     string  `json:"tier"`
	Trigger  Trigger `json:"trigger"`
	// Table is the table the items were read from.
	Table string `json:"table"`
	// StartedAt and CompletedAt bound the read. Items changed while it ran
	// may be in either state; a restore replays the change log from
	// FeedFrom, which is before StartedAt, so it ends right either way, and
	// only restores to CompletedAt or later start from this snapshot.
	StartedAt   time.Time `json:"startedAt"`
	CompletedAt time.Time `json:"completedAt"`
	// FeedFrom is the change-log position the snapshot is consistent with:
	// replaying every logged change from it onto the items gives the
	// tenant's items at any later time.
	FeedFrom time.Time `json:"feedFrom"`
	Items    int64     `json:"items"`
	Bytes    int64     `json:"bytes"`
	// Checksum covers every item (Checksum in internal/control/backup).
	Checksum   string               `json:"checksum"`
	Partitions map[string]Partition `json:"partitions"`
	Parts      []Part               `json:"parts"`
}

// Kind is what a job does.
type Kind string

// Job kinds.
const (
	KindBackup  Kind = "backup"
	KindRestore Kind = "restore"
	// KindMigration moves a tenant's items between the pooled table and a
	// dedicated one (a tier change).
	KindMigration Kind = "migration"
)

// State is where a job is in its life.
type State string

// Job states. A job ends SUCCEEDED, FAILED (nothing was changed, or a
// backup gave up) or ROLLED_BACK (a restore that had begun writing put the
// tenant's items back as they were before it).
const (
	StateQueued     State = "QUEUED"
	StateRunning    State = "RUNNING"
	StateSucceeded  State = "SUCCEEDED"
	StateFailed     State = "FAILED"
	StateRolledBack State = "ROLLED_BACK"
)

// Done reports whether s is final.
func (s State) Done() bool { return s == StateSucceeded || s == StateFailed || s == StateRolledBack }

// Phase is the step a job is at; each is idempotent, and a job resumes at
// the phase it records.
type Phase string

// Phases of a restore, in order. A backup only has PhaseSnapshot.
const (
	PhaseQueued   Phase = "queued"
	PhaseSnapshot Phase = "snapshot" // backups: read the items, write the parts and manifest
	// PhaseClone: into a new tenant, wait for the clone to be onboarded.
	PhaseClone Phase = "clone"
	// PhaseFence: in place, the tenant becomes RESTORING (read-only).
	PhaseFence Phase = "fence"
	// PhaseDrain: wait until no process can still hold the tenant's record
	// as ACTIVE (the catalog cache's TTL) and the change feed has logged
	// everything up to now (a marker change is in the log).
	PhaseDrain Phase = "drain"
	// PhaseSafety: in place, a pre-restore snapshot, the rollback point.
	PhaseSafety Phase = "safety"
	// PhaseApply: compute the items at the target time (the snapshot and
	// the change log) and make the tenant's items exactly those.
	PhaseApply Phase = "apply"
	// PhaseVerify: read the tenant's items again and compare checksums.
	PhaseVerify Phase = "verify"
	// PhaseRollback: put the pre-restore items back.
	PhaseRollback Phase = "rollback"
	// PhaseDone: the tenant is active again.
	PhaseDone Phase = "done"

	// Phases of a tier migration, in order, with PhaseFence, PhaseDrain,
	// PhaseVerify, PhaseRollback and PhaseDone above. PhaseFence there sets
	// the source placement's fence (store.SetFence), after which writes to
	// it fail; PhaseDrain waits for the change feed.
	//
	// PhasePrepare: the tenant is MIGRATING; the target table exists (a
	// TenantStack for pooled to dedicated) and holds none of the tenant's
	// items.
	PhasePrepare Phase = "prepare"
	// PhaseCopy: copy the tenant's items from the source to the target.
	PhaseCopy Phase = "copy"
	// PhaseCatchUp: apply the change log since the copy began to the
	// target, while the tenant still writes, until every process's cached
	// record says MIGRATING (the catalog TTL).
	PhaseCatchUp Phase = "catch-up"
	// PhaseFinal: with the source fenced and the feed drained, apply the
	// last changes.
	PhaseFinal Phase = "final"
	// PhaseCutover: the catalog points at the target; the tenant is ACTIVE.
	PhaseCutover Phase = "cutover"
)

// Job is a backup or restore of one tenant, recorded in the catalog.
type Job struct {
	ID       string `json:"jobId" dynamodbav:"jobId"`
	TenantID string `json:"tenantId" dynamodbav:"tenantId"`
	Kind     Kind   `json:"kind" dynamodbav:"kind"`
	State    State  `json:"state" dynamodbav:"state"`
	Phase    Phase  `json:"phase" dynamodbav:"phase"`
	// Actor is the operator who asked, or "schedule".
	Actor   string  `json:"actor" dynamodbav:"actor"`
	Trigger Trigger `json:"trigger,omitempty" dynamodbav:"trigger,omitempty"`

	// Restores: the target time, and the new tenant for a clone.
	To         time.Time `json:"to,omitzero" dynamodbav:"to,omitempty"`
	IntoName   string    `json:"intoNewTenant,omitempty" dynamodbav:"intoName,omitempty"`
	IntoTenant string    `json:"intoTenantId,omitempty" dynamodbav:"intoTenant,omitempty"`

	// SnapshotID is the snapshot a backup wrote or a restore started from;
	// SafetyID the pre-restore snapshot of an in-place restore.
	SnapshotID string `json:"snapshotId,omitempty" dynamodbav:"snapshotId,omitempty"`
	SafetyID   string `json:"safetySnapshotId,omitempty" dynamodbav:"safetyId,omitempty"`
	// FencedAt is when the tenant became read-only; Marker the key of the
	// change that proves the feed has caught up.
	FencedAt time.Time `json:"fencedAt,omitzero" dynamodbav:"fencedAt,omitempty"`
	Marker   string    `json:"-" dynamodbav:"marker,omitempty"`
	MarkedAt time.Time `json:"-" dynamodbav:"markedAt,omitempty"`

	// Migrations: the direction, the tables, when the tenant became
	// MIGRATING, and where the change log's replay starts (before the copy
	// began) and how far it has been applied.
	ToDedicated bool      `json:"toDedicated,omitempty" dynamodbav:"toDedicated,omitempty"`
	FromTable   string    `json:"fromTable,omitempty" dynamodbav:"fromTable,omitempty"`
	ToTable     string    `json:"toTable,omitempty" dynamodbav:"toTable,omitempty"`
	MigratingAt time.Time `json:"migratingAt,omitzero" dynamodbav:"migratingAt,omitempty"`
	FeedFrom    time.Time `json:"feedFrom,omitzero" dynamodbav:"feedFrom,omitempty"`
	CaughtUpTo  time.Time `json:"caughtUpTo,omitzero" dynamodbav:"caughtUpTo,omitempty"`
	Verified    int64     `json:"itemsVerified,omitempty" dynamodbav:"verified,omitempty"`

	// Progress.
	Items     int64 `json:"items" dynamodbav:"items"`
	ItemsDone int64 `json:"itemsDone" dynamodbav:"itemsDone"`
	Changes   int64 `json:"changesReplayed" dynamodbav:"changes"`
	Written   int64 `json:"itemsWritten" dynamodbav:"written"`
	Deleted   int64 `json:"itemsDeleted" dynamodbav:"deleted"`
	Attempts  int   `json:"attempts" dynamodbav:"attempts"`

	Reason    string    `json:"reason,omitempty" dynamodbav:"reason,omitempty"`
	CreatedAt time.Time `json:"createdAt" dynamodbav:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt" dynamodbav:"updatedAt"`
	// Version guards every save (optimistic locking).
	Version int64 `json:"version" dynamodbav:"version"`
}

// InPlace reports whether a restore job restores the tenant itself.
func (j Job) InPlace() bool { return j.Kind == KindRestore && j.IntoName == "" }

// Errors of recovery.
var (
	// ErrNoSnapshot: no complete snapshot was taken before the target time.
	ErrNoSnapshot = errors.New("recovery: no snapshot before the requested time")
	// ErrJobNotFound: no such job of the tenant.
	ErrJobNotFound = errors.New("recovery: job not found")
)

// ValidJobID reports whether id has the shape NewJobID gives: "j-" and a
// lower-case ULID.
func ValidJobID(id string) bool { return validID(id, "j-") }

// ValidSnapshotID reports whether id has the shape NewSnapshotID gives:
// "s-" and a lower-case ULID.
func ValidSnapshotID(id string) bool { return validID(id, "s-") }

func validID(id, prefix string) bool {
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok || len(rest) != 26 {
		return false
	}
	for _, r := range rest {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

// NewJobID returns a new, time-ordered job id.
func NewJobID() string { return "j-" + strings.ToLower(entityid.New()) }

// NewSnapshotID returns a new, time-ordered snapshot id.
func NewSnapshotID() string { return "s-" + strings.ToLower(entityid.New()) }
