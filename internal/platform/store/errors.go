package store

import (
	"errors"

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
