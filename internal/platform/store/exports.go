package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/tessera-saas/tessera/internal/platform/export"
)

const entityExport = "EXPORT"

// Errors of export transitions.
var (
	// ErrExportFinished: the export is DONE or FAILED; it is never run again.
	ErrExportFinished = errors.New("store: export already finished")
	// ErrExportRunning: another run holds the export and its lease has not
	// run out.
	ErrExportRunning = errors.New("store: export is running elsewhere")
	// ErrExportNotOurs: the run no longer holds the export (its lease ran
	// out and another run took it over, or it finished meanwhile).
	ErrExportNotOurs = errors.New("store: export is not held by this run")
)

// Attributes of an export item used in conditions.
const (
	attrStatus     = "status"
	attrRunID      = "runId"
	attrLeaseUntil = "leaseUntil"
)

// exportItem is an export record in the tenant's partition
// "<tenantId>#EXPORT". LeaseUntil is Unix milliseconds, so conditions
// compare numbers.
type exportItem struct {
	key
	Status     string     `dynamodbav:"status"`
	ItemCount  int64      `dynamodbav:"itemCount"`
	ObjectKey  string     `dynamodbav:"objectKey,omitempty"`
	Reason     string     `dynamodbav:"reason,omitempty"`
	RunID      string     `dynamodbav:"runId,omitempty"`
	LeaseUntil int64      `dynamodbav:"leaseUntil,omitempty"`
	CreatedAt  time.Time  `dynamodbav:"createdAt"`
	StartedAt  *time.Time `dynamodbav:"startedAt,omitempty"`
	FinishedAt *time.Time `dynamodbav:"finishedAt,omitempty"`
}

func (it exportItem) export() export.Export {
	return export.Export{ID: it.SK, Status: export.Status(it.Status), ItemCount: it.ItemCount, ObjectKey: it.ObjectKey,
		Reason: it.Reason, CreatedAt: it.CreatedAt, StartedAt: it.StartedAt, FinishedAt: it.FinishedAt}
}

// CreateExport records a new QUEUED export of the caller's tenant.
func (d TenantData) CreateExport(ctx context.Context) (export.Export, error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return export.Export{}, err
	}
	it := exportItem{key: tenantKey(sc.tenantID, entityExport, s.newID()), Status: string(export.StatusQueued), CreatedAt: s.now().UTC()}
	err = s.putItem(ctx, sc, it, &notExists)
	if IsCondCheckFailed(err) {
		// The id is new, so the record there is this put's own: the SDK
		// retried it after its reply was lost (a reset connection, a 5xx
		// after the write). Not a failure.
		var got exportItem
		if gerr := s.get(ctx, sc, it.key, true, &got); gerr == nil && got.CreatedAt.Equal(it.CreatedAt) {
			return got.export(), nil
		}
	}
	if err != nil {
		return export.Export{}, fmt.Errorf("create export: %w", err)
	}
	return it.export(), nil
}

// GetExport reads one export of the caller's tenant.
func (d TenantData) GetExport(ctx context.Context, id string) (export.Export, error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return export.Export{}, err
	}
	var it exportItem
	if err := s.get(ctx, sc, tenantKey(sc.tenantID, entityExport, id), false, &it); err != nil {
		return export.Export{}, fmt.Errorf("get export %s: %w", id, err)
	}
	return it.export(), nil
}

// DeleteQueuedExport removes an export that is still QUEUED: the API undoes
// the record when its message could not be queued. ErrNotFound when there is
// no such QUEUED export.
func (d TenantData) DeleteQueuedExport(ctx context.Context, id string) error {
	s, sc, err := d.open(ctx)
	if err != nil {
		return err
	}
	err = s.deleteItem(ctx, sc, tenantKey(sc.tenantID, entityExport, id), expression.Name(attrStatus).Equal(expression.Value(export.StatusQueued)))
	if IsCondCheckFailed(err) {
		return fmt.Errorf("delete export %s: not queued: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete export %s: %w", id, err)
	}
	return nil
}

// StartExport moves an export of the caller's tenant to RUNNING under runID
// until leaseUntil: from QUEUED, or from RUNNING whose lease ran out (a run
// that crashed). Errors: ErrNotFound, ErrExportFinished, ErrExportRunning.
func (d TenantData) StartExport(ctx context.Context, id, runID string, leaseUntil time.Time) (export.Export, error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return export.Export{}, err
	}
	now := s.now().UTC()
	status := expression.Name(attrStatus)
	cond := status.Equal(expression.Value(export.StatusQueued)).Or(
		status.Equal(expression.Value(export.StatusRunning)).And(expression.Name(attrLeaseUntil).LessThan(expression.Value(now.UnixMilli()))))
	upd := expression.Set(status, expression.Value(export.StatusRunning)).
		Set(expression.Name(attrRunID), expression.Value(runID)).
		Set(expression.Name(attrLeaseUntil), expression.Value(leaseUntil.UnixMilli())).
		Set(expression.Name("startedAt"), expression.Value(now))
	it, err := s.transitionExport(ctx, sc, id, cond, upd)
	if IsCondCheckFailed(err) {
		var cur exportItem
		switch gerr := s.get(ctx, sc, tenantKey(sc.tenantID, entityExport, id), true, &cur); {
		case gerr != nil:
			return export.Export{}, fmt.Errorf("start export %s: %w", id, gerr)
		case export.Status(cur.Status).Finished():
			return export.Export{}, fmt.Errorf("start export %s: %w", id, ErrExportFinished)
		default:
			return export.Export{}, fmt.Errorf("start export %s: %w", id, ErrExportRunning)
		}
	}
	if err != nil {
		return export.Export{}, fmt.Errorf("start export %s: %w", id, err)
	}
	return it.export(), nil
}

// FinishExport marks an export DONE with its object, if runID still holds
// it; ErrExportNotOurs otherwise.
func (d TenantData) FinishExport(ctx context.Context, id, runID string, itemCount int64, objectKey string) (export.Export, error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return export.Export{}, err
	}
	upd := expression.Set(expression.Name(attrStatus), expression.Value(export.StatusDone)).
		Set(expression.Name("itemCount"), expression.Value(itemCount)).
		Set(expression.Name("objectKey"), expression.Value(objectKey)).
		Set(expression.Name("finishedAt"), expression.Value(s.now().UTC())).
		Remove(expression.Name(attrLeaseUntil))
	it, err := s.transitionExport(ctx, sc, id, heldBy(runID), upd)
	if IsCondCheckFailed(err) {
		return export.Export{}, fmt.Errorf("finish export %s: %w", id, ErrExportNotOurs)
	}
	if err != nil {
		return export.Export{}, fmt.Errorf("finish export %s: %w", id, err)
	}
	return it.export(), nil
}

// RequeueExport hands an export that runID holds back to QUEUED after a
// failed attempt, so that the next delivery need not wait for the lease.
// ErrExportNotOurs when runID does not hold it.
func (d TenantData) RequeueExport(ctx context.Context, id, runID string) error {
	s, sc, err := d.open(ctx)
	if err != nil {
		return err
	}
	upd := expression.Set(expression.Name(attrStatus), expression.Value(export.StatusQueued)).
		Remove(expression.Name(attrLeaseUntil)).Remove(expression.Name(attrRunID)).Remove(expression.Name("startedAt"))
	_, err = s.transitionExport(ctx, sc, id, heldBy(runID), upd)
	if IsCondCheckFailed(err) {
		return fmt.Errorf("requeue export %s: %w", id, ErrExportNotOurs)
	}
	if err != nil {
		return fmt.Errorf("requeue export %s: %w", id, err)
	}
	return nil
}

// FailExport marks an export FAILED with reason (a stable code): from
// QUEUED, or from RUNNING held by runID (empty when no run started).
// ErrExportNotOurs when it is in neither state.
func (d TenantData) FailExport(ctx context.Context, id, runID, reason string) (export.Export, error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return export.Export{}, err
	}
	cond := expression.Name(attrStatus).Equal(expression.Value(export.StatusQueued))
	if runID != "" {
		cond = cond.Or(heldBy(runID))
	}
	upd := expression.Set(expression.Name(attrStatus), expression.Value(export.StatusFailed)).
		Set(expression.Name("reason"), expression.Value(reason)).
		Set(expression.Name("finishedAt"), expression.Value(s.now().UTC())).
		Remove(expression.Name(attrLeaseUntil))
	it, err := s.transitionExport(ctx, sc, id, cond, upd)
	if IsCondCheckFailed(err) {
		return export.Export{}, fmt.Errorf("fail export %s: %w", id, ErrExportNotOurs)
	}
	if err != nil {
		return export.Export{}, fmt.Errorf("fail export %s: %w", id, err)
	}
	return it.export(), nil
}

// heldBy is true while runID holds a RUNNING export.
func heldBy(runID string) expression.ConditionBuilder {
	return expression.Name(attrStatus).Equal(expression.Value(export.StatusRunning)).
		And(expression.Name(attrRunID).Equal(expression.Value(runID)))
}

// transitionExport updates an existing export item of the scope's tenant
// when cond holds and returns the item as it is afterwards. A failed
// condition (or a missing item) is returned as the SDK's
// ConditionalCheckFailedException.
func (s *Store) transitionExport(ctx context.Context, sc scope, id string, cond expression.ConditionBuilder, upd expression.UpdateBuilder) (exportItem, error) {
	var it exportItem
	err := s.updateItem(ctx, sc, tenantKey(sc.tenantID, entityExport, id), expression.AttributeExists(expression.Name(attrPK)).And(cond), upd, &it)
	return it, err
}
