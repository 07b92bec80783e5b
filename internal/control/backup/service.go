package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/changefeed"
	"github.com/tessera-saas/tessera/internal/control/outbox"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// Objects is the part of the S3 client backups use.
type Objects interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// Credentials hands out a tenant's scoped credentials (access.Credentials).
type Credentials interface {
	ForTenant(ctx context.Context, tenantID string) (aws.CredentialsProvider, error)
}

// Publisher publishes outbox events right after the change they announce
// (outbox.Outbox); the sweeper publishes any it could not.
type Publisher interface {
	PublishOrKeep(ctx context.Context, ev *store.OutboxEvent)
}

// Deps are the service's collaborators.
type Deps struct {
	Catalog *store.Catalog
	// Data reaches tenant items with each tenant's scoped credentials.
	Data    *store.Store
	Creds   Credentials
	Objects Objects
	Bucket  string
	Pub     Publisher
	// Cloner creates the new tenant of a restore into a new tenant
	// (CatalogCloner in production).
	Cloner Cloner
	// CatalogTTL is how long any process may cache a tenant record
	// (settings.Settings.CatalogTTL): an in-place restore waits that long
	// after the tenant became read-only before it writes.
	CatalogTTL time.Duration
	// PartItems bounds the items of one snapshot part (default
	// DefaultPartItems).
	PartItems int
	// Wait bounds how long Run waits in process for a phase that must wait
	// (the catalog TTL, the feed) before it returns ErrWaiting (default
	// DefaultWait).
	Wait time.Duration
	Log  *slog.Logger
	Now  func() time.Time

	// Tier migrations (migrate.go). Tables makes and removes dedicated
	// tables; PooledTable is the pool's table; Grace is how long a
	// migrated tenant's old copy is kept (default DefaultGrace);
	// RequestBound how long a request may write with the record it read
	// (default DefaultRequestBound).
	Tables       DedicatedTables
	PooledTable  string
	Grace        time.Duration
	RequestBound time.Duration
}

// Defaults.
const (
	DefaultPartItems = 5000
	DefaultWait      = 2 * time.Minute
	// FeedSkew is how far before a snapshot's start its replay begins:
	// the stream's change times are approximate (whole seconds on some
	// engines), and replaying a change the snapshot already holds is
	// harmless.
	FeedSkew = 5 * time.Second
	// MaxVerifyRounds bounds apply-and-verify rounds of one run.
	MaxVerifyRounds = 3
)

// Service takes and lists snapshots and runs restores.
type Service struct {
	d Deps
	// logged keeps the change-log objects this process has read, decoded:
	// they never change once written (changefeed names each by its
	// batch), so the polls of a drain and a migration's catch-ups fetch
	// only the objects written since the last.
	logged changeCache
	// baselines holds the pre-verification of each migration this process
	// runs, by job id, until its verification.
	baselines sync.Map
}

// New returns the service. It makes no AWS call.
func New(d Deps) *Service {
	if d.PartItems <= 0 {
		d.PartItems = DefaultPartItems
	}
	if d.Wait <= 0 {
		d.Wait = DefaultWait
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Grace <= 0 {
		d.Grace = DefaultGrace
	}
	if d.RequestBound <= 0 {
		d.RequestBound = DefaultRequestBound
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{d: d, logged: changeCache{objects: map[string][]changefeed.Change{}}}
}

// Errors of requests. The operator API maps them to statuses.
var (
	// ErrBusy: the tenant has a backup or restore job that has not ended.
	ErrBusy = errors.New("backup: a job of this tenant is still running")
	// ErrNotActive: the tenant is not ACTIVE, so it cannot be backed up or
	// restored now.
	ErrNotActive = errors.New("backup: tenant is not active")
	// ErrBadTime: the restore time is in the future or before the oldest
	// backup kept.
	ErrBadTime = errors.New("backup: restore time out of range")
	// ErrWaiting: the job is waiting (for the catalog TTL, the change feed,
	// or a clone's onboarding) and must be run again later.
	ErrWaiting = errors.New("backup: job is waiting")
)

// RestoreRequest asks for a restore of one tenant.
type RestoreRequest struct {
	TenantID string
	To       time.Time
	// IntoName, when set, restores into a new tenant of that name (a
	// clone) instead of in place.
	IntoName string
	Actor    string
	// CorrelationID is carried by the events.
	CorrelationID string
}

// RequestBackup records a backup job of an active tenant and the event that
// starts it.
func (s *Service) RequestBackup(ctx context.Context, tenantID, actor, correlationID string, trigger recovery.Trigger) (recovery.Job, error) {
	rec, err := s.d.Catalog.GetTenant(ctx, tenantID)
	if err != nil {
		return recovery.Job{}, err
	}
	if rec.Status != catalog.StatusActive {
		return recovery.Job{}, fmt.Errorf("back up tenant %s (%s): %w", tenantID, rec.Status, ErrNotActive)
	}
	if err := s.idle(ctx, tenantID, recovery.KindBackup); err != nil {
		return recovery.Job{}, err
	}
	now := s.d.Now().UTC()
	job := recovery.Job{ID: recovery.NewJobID(), TenantID: tenantID, Kind: recovery.KindBackup, State: recovery.StateQueued,
		Phase: recovery.PhaseQueued, Actor: actor, Trigger: trigger, CreatedAt: now, UpdatedAt: now, Version: 1}
	return job, s.create(ctx, job, rec, bus.TenantBackupRequested, correlationID, "backup requested")
}

// RequestRestore records a restore job and the event that starts it, after
// checking that it can run: the tenant is active, the time is in the past,
// and a snapshot was completed before it.
func (s *Service) RequestRestore(ctx context.Context, r RestoreRequest) (recovery.Job, error) {
	rec, err := s.d.Catalog.GetTenant(ctx, r.TenantID)
	if err != nil {
		return recovery.Job{}, err
	}
	if rec.Status != catalog.StatusActive {
		return recovery.Job{}, fmt.Errorf("restore tenant %s (%s): %w", r.TenantID, rec.Status, ErrNotActive)
	}
	now := s.d.Now().UTC()
	if r.To.After(now) {
		return recovery.Job{}, fmt.Errorf("restore to %s, after now: %w", r.To.Format(time.RFC3339), ErrBadTime)
	}
	if err := s.idle(ctx, r.TenantID, ""); err != nil {
		return recovery.Job{}, err
	}
	if _, err := s.snapshotBefore(ctx, rec, r.To); err != nil {
		return recovery.Job{}, err
	}
	job := recovery.Job{ID: recovery.NewJobID(), TenantID: r.TenantID, Kind: recovery.KindRestore, State: recovery.StateQueued,
		Phase: recovery.PhaseQueued, Actor: r.Actor, To: r.To.UTC(), IntoName: r.IntoName, CreatedAt: now, UpdatedAt: now, Version: 1}
	detail := "restore to " + job.To.Format(time.RFC3339Nano)
	if r.IntoName != "" {
		detail += " into a new tenant"
	}
	return job, s.create(ctx, job, rec, bus.TenantRestoreRequested, r.CorrelationID, detail)
}

// recentJobs is how many of a tenant's newest jobs the checks read: jobs
// run one at a time, so one that has not ended is among the newest, and
// the schedule only needs the newest backup.
const recentJobs = 20

// idle returns ErrBusy when the tenant has a job that has not ended (of
// kind, when kind is set; of any kind otherwise). A restore waits for
// running backups and the other way round, so a snapshot never reads a
// tenant half restored.
func (s *Service) idle(ctx context.Context, tenantID string, kind recovery.Kind) error {
	jobs, err := s.d.Catalog.RecentJobs(ctx, tenantID, recentJobs)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if !j.State.Done() && (kind == "" || j.Kind == kind || j.Kind == recovery.KindRestore) {
			return fmt.Errorf("tenant %s: %s job %s is %s: %w", tenantID, j.Kind, j.ID, j.State, ErrBusy)
		}
	}
	return nil
}

func (s *Service) create(ctx context.Context, job recovery.Job, rec catalog.Record, dt bus.DetailType, correlationID, detail string) error {
	if correlationID == "" {
		correlationID = bus.NewCorrelationID()
	}
	ev, err := outbox.Event(dt, bus.Detail{TenantID: rec.TenantID, Tier: string(rec.Tier), CorrelationID: correlationID, JobID: job.ID})
	if err != nil {
		return err
	}
	if err := s.d.Catalog.CreateJob(ctx, job, ev, &store.AuditEntry{Action: string(job.Kind) + "-requested", Actor: job.Actor, Detail: detail + " (job " + job.ID + ")"}); err != nil {
		return err
	}
	if s.d.Pub != nil {
		s.d.Pub.PublishOrKeep(ctx, ev)
	}
	return nil
}

// Job returns one of the tenant's jobs.
func (s *Service) Job(ctx context.Context, tenantID, jobID string) (recovery.Job, error) {
	return s.d.Catalog.GetJob(ctx, tenantID, jobID)
}

// Jobs returns the tenant's jobs, oldest first; catalog.ErrNotFound when
// there is no such tenant.
func (s *Service) Jobs(ctx context.Context, tenantID string) ([]recovery.Job, error) {
	if _, err := s.d.Catalog.GetTenant(ctx, tenantID); err != nil {
		return nil, err
	}
	return s.d.Catalog.ListJobs(ctx, tenantID)
}

// scopeOf is the scope of background work for the tenant of rec.
func scopeOf(rec catalog.Record) (catalog.Scope, error) {
	sc, err := catalog.ActAs(rec)
	if err != nil {
		return catalog.Scope{}, fmt.Errorf("act as tenant %s: %w", rec.TenantID, err)
	}
	return sc, nil
}

// ScheduleBackups requests a backup of every active tenant whose last
// successful backup job began longer ago than its tier's interval
// (plan.Limits.BackupInterval)
// and returns how many it requested. Tenants with a job running are
// skipped; one tenant's failure does not stop the others.
func (s *Service) ScheduleBackups(ctx context.Context) (int, error) {
	return s.eachTenant(ctx, s.scheduleOne)
}

// eachTenant calls one for every tenant of the catalog, a page at a time,
// and returns how many calls reported true and every call's error; one
// tenant's failure does not stop the others.
func (s *Service) eachTenant(ctx context.Context, one func(context.Context, catalog.Record) (bool, error)) (int, error) {
	var (
		n      int
		errs   []error
		cursor string
	)
	for {
		page, err := s.d.Catalog.ListTenants(ctx, store.PageRequest{Limit: 100, Cursor: cursor})
		if err != nil {
			return n, err
		}
		for _, rec := range page.Items {
			done, err := one(ctx, rec)
			if err != nil {
				errs = append(errs, err)
			}
			if done {
				n++
			}
		}
		if page.Next == "" {
			return n, errors.Join(errs...)
		}
		cursor = page.Next
	}
}

func (s *Service) scheduleOne(ctx context.Context, rec catalog.Record) (bool, error) {
	if rec.Status != catalog.StatusActive || !tenant.ValidID(rec.TenantID) {
		return false, nil
	}
	limits, ok := plan.For(rec.Tier)
	if !ok || limits.BackupInterval <= 0 {
		return false, nil
	}
	// The tenant's jobs in the catalog say when it was last backed up: one
	// Query, no S3 listing and no tenant session per tenant and tick.
	jobs, err := s.d.Catalog.RecentJobs(ctx, rec.TenantID, recentJobs)
	if err != nil {
		return false, fmt.Errorf("schedule backup of %s: %w", rec.TenantID, err)
	}
	for _, j := range jobs {
		if !j.State.Done() {
			return false, nil // a backup or restore runs
		}
		if j.Kind == recovery.KindBackup && j.State == recovery.StateSucceeded {
			if s.d.Now().Sub(j.CreatedAt) < limits.BackupInterval {
				return false, nil
			}
			break
		}
	}
	_, err = s.RequestBackup(ctx, rec.TenantID, "schedule", "", recovery.TriggerSchedule)
	if errors.Is(err, ErrBusy) || errors.Is(err, ErrNotActive) {
		return false, nil
	}
	return err == nil, err
}
