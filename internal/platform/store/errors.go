package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Domain errors of the store. Callers test them with errors.Is.
var (
	ErrNotFound        = errors.New("store: not found")
	ErrSKUTaken        = errors.New("store: sku already used by another product of this tenant")
	ErrVersionConflict = errors.New("store: version conflict")
	ErrUnknownProduct  = errors.New("store: product does not exist")
	ErrInvalidCursor   = errors.New("store: invalid cursor")
	ErrExists          = errors.New("store: already exists")
)

// IsCondCheckFailed reports whether err is a failed condition of a single-item
// write.
func IsCondCheckFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// cancellation returns the per-item reasons of a cancelled transaction, or nil.
func cancellation(err error) []types.CancellationReason {
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return tce.CancellationReasons
	}
	return nil
}

// failedAt reports whether the transaction item at index i failed its
// condition.
func failedAt(reasons []types.CancellationReason, i int) bool {
	return i < len(reasons) && reasons[i].Code != nil && *reasons[i].Code == "ConditionalCheckFailed"
}

// ErrFenced: a write of a tenant reached a placement whose fence is up (a
// tier migration or a restore is switching the tenant's data over), and
// nothing was written. The write succeeds on the tenant's current
// placement, or on this one once the fence is cleared. The error is a
// *FencedError, which says who set the fence.
var ErrFenced = errors.New("store: write refused: the tenant's placement is fenced")

// FencedError is a write that the placement's fence refused (fence.go).
// errors.Is(err, ErrFenced) holds for it.
type FencedError struct {
	// Fence is the fence as read after the refusal; zero when it was
	// cleared meanwhile or could not be read.
	Fence Fence
}

func (e *FencedError) Error() string {
	if e.Fence.Reason == "" {
		return ErrFenced.Error()
	}
	return fmt.Sprintf("%s (%s, job %s, since %s)", ErrFenced, e.Fence.Reason, e.Fence.JobID, e.Fence.Since.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrFenced) hold.
func (e *FencedError) Is(target error) bool { return target == ErrFenced }
