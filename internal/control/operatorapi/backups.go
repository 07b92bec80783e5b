package operatorapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/control/backup"
	"github.com/tessera-saas/tessera/internal/platform/audit"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// Backups is the per-tenant backup and restore engine the operator routes
// drive (backup.Service).
type Backups interface {
	RequestBackup(ctx context.Context, tenantID, actor, correlationID string, trigger recovery.Trigger) (recovery.Job, error)
	RequestRestore(ctx context.Context, r backup.RestoreRequest) (recovery.Job, error)
	Job(ctx context.Context, tenantID, jobID string) (recovery.Job, error)
	Jobs(ctx context.Context, tenantID string) ([]recovery.Job, error)
	Snapshots(ctx context.Context, tenantID string) ([]recovery.Snapshot, error)
}

// WithBackups serves the backup, restore and job routes with b. Without it
// they answer 501 not_configured.
func (h *Handler) WithBackups(b Backups) *Handler {
	h.backups = b
	return h
}

// restoreBody is the body of POST /v1/tenants/{id}/restores.
type restoreBody struct {
	// To is the time to restore the tenant's items to (RFC 3339).
	To string `json:"to" required:"true"`
	// IntoNewTenant, when set, is the name of a new tenant that receives
	// the items (a clone); the tenant itself is left as it is.
	IntoNewTenant *string `json:"intoNewTenant"`
}

// snapshotList is the body of GET /v1/tenants/{id}/backups.
type snapshotList struct {
	Items []recovery.Snapshot `json:"items"`
}

// jobList is the body of GET /v1/tenants/{id}/jobs.
type jobList struct {
	Items []recovery.Job `json:"items"`
}

// decodeRestore reads and checks a restore request's body.
func decodeRestore(req events.APIGatewayProxyRequest) (to time.Time, into string, err error) {
	var b restoreBody
	if err := edge.DecodeJSON(req, &b); err != nil {
		return time.Time{}, "", err
	}
	to, err = time.Parse(time.RFC3339, strings.TrimSpace(b.To))
	if err != nil {
		return time.Time{}, "", edge.NewError(http.StatusBadRequest, edge.CodeValidation, "to must be an RFC 3339 time, such as 2024-05-01T12:00:00Z")
	}
	if b.IntoNewTenant != nil {
		if !validName(*b.IntoNewTenant) {
			return time.Time{}, "", edge.NewError(http.StatusBadRequest, edge.CodeValidation, "intoNewTenant, when given, is the new tenant's name: at most 100 characters, not blank")
		}
		into = strings.TrimSpace(*b.IntoNewTenant)
	}
	return to.UTC(), into, nil
}

// engine returns the backup engine, or 501 not_configured without one.
func (h *Handler) engine() (Backups, error) {
	if h.backups == nil {
		return nil, edge.NewError(http.StatusNotImplemented, edge.CodeNotConfigured, "backups are not configured in this deployment")
	}
	return h.backups, nil
}

// jobPath is the tenant id and the job id of a job's path.
func jobPath(req events.APIGatewayProxyRequest) (string, string, error) {
	id, err := tenantID(req)
	if err != nil {
		return "", "", err
	}
	jobID := req.PathParameters["jobId"]
	if !recovery.ValidJobID(jobID) {
		return "", "", edge.NewError(http.StatusBadRequest, edge.CodeInvalidID, "the jobId in the path is not a job id")
	}
	return id, jobID, nil
}

// withEngine runs one backup route for the tenant its path names: the id
// checked, the engine there, and the engine's errors mapped to the API's
// answers (recoveryError).
func (h *Handler) withEngine(req events.APIGatewayProxyRequest, call func(b Backups, id string) (int, any, error)) (int, any, error) {
	id, err := tenantID(req)
	if err != nil {
		return 0, nil, err
	}
	b, err := h.engine()
	if err != nil {
		return 0, nil, err
	}
	status, out, err := call(b, id)
	if err != nil {
		return 0, nil, recoveryError(err)
	}
	return status, out, nil
}

func (h *Handler) backupTenant(ctx context.Context, op tenant.Operator, req events.APIGatewayProxyRequest) (int, any, error) {
	audit.Expect(ctx, http.StatusAccepted) // the job's audit entry is the request's
	return h.withEngine(req, func(b Backups, id string) (int, any, error) {
		job, err := b.RequestBackup(ctx, id, op.UserID, correlationID(req), recovery.TriggerOperator)
		return http.StatusAccepted, job, err
	})
}

func (h *Handler) listBackups(ctx context.Context, _ tenant.Operator, req events.APIGatewayProxyRequest) (int, any, error) {
	return h.withEngine(req, func(b Backups, id string) (int, any, error) {
		snaps, err := b.Snapshots(ctx, id)
		if snaps == nil {
			snaps = []recovery.Snapshot{}
		}
		return http.StatusOK, snapshotList{Items: snaps}, err
	})
}

func (h *Handler) restoreTenant(ctx context.Context, op tenant.Operator, req events.APIGatewayProxyRequest) (int, any, error) {
	if _, err := tenantID(req); err != nil {
		return 0, nil, err
	}
	to, into, err := decodeRestore(req)
	if err != nil {
		return 0, nil, err
	}
	audit.Expect(ctx, http.StatusAccepted) // the job's audit entry is the request's
	return h.withEngine(req, func(b Backups, id string) (int, any, error) {
		job, err := b.RequestRestore(ctx, backup.RestoreRequest{TenantID: id, To: to, IntoName: into,
			Actor: op.UserID, CorrelationID: correlationID(req)})
		return http.StatusAccepted, job, err
	})
}

func (h *Handler) getJob(ctx context.Context, _ tenant.Operator, req events.APIGatewayProxyRequest) (int, any, error) {
	_, jobID, err := jobPath(req)
	if err != nil {
		return 0, nil, err
	}
	return h.withEngine(req, func(b Backups, id string) (int, any, error) {
		job, err := b.Job(ctx, id, jobID)
		return http.StatusOK, job, err
	})
}

func (h *Handler) listJobs(ctx context.Context, _ tenant.Operator, req events.APIGatewayProxyRequest) (int, any, error) {
	return h.withEngine(req, func(b Backups, id string) (int, any, error) {
		jobs, err := b.Jobs(ctx, id)
		if jobs == nil {
			jobs = []recovery.Job{}
		}
		return http.StatusOK, jobList{Items: jobs}, err
	})
}

// recoveryError maps the backup engine's errors to the API's answers, as
// this handler maps the catalog's (the engine's sentinels live in the
// control plane, which edge may not import). Anything else goes on to
// edge's mapping, which hides unexpected errors behind a 500.
func recoveryError(err error) error {
	switch {
	case errors.Is(err, backup.ErrBusy):
		return edge.NewError(http.StatusConflict, edge.CodeJobRunning, "a backup or restore of this tenant is still running; wait until it ends")
	case errors.Is(err, backup.ErrNotActive):
		return edge.NewError(http.StatusConflict, edge.CodeInvalidState, "the tenant is not ACTIVE; it cannot be backed up or restored now")
	case errors.Is(err, backup.ErrBadTime):
		return edge.NewError(http.StatusBadRequest, edge.CodeValidation, "to must be in the past, and not before the oldest backup kept")
	case errors.Is(err, recovery.ErrNoSnapshot):
		return edge.NewError(http.StatusConflict, edge.CodeNoBackup, "no backup of this tenant was completed before that time")
	case errors.Is(err, recovery.ErrJobNotFound):
		return edge.NewError(http.StatusNotFound, edge.CodeNotFound, "no such job of this tenant")
	case errors.Is(err, catalog.ErrNotFound):
		return edge.NewError(http.StatusNotFound, edge.CodeNotFound, "no such tenant")
	}
	return err
}
