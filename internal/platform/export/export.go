package export

import (
	"time"

	"github.com/tessera-saas/tessera/internal/platform/order"
	"github.com/tessera-saas/tessera/internal/platform/product"
)

// Status is where an export is in its lifecycle. Every transition is a
// conditional write (internal/platform/store), so a redelivered message cannot run a
// finished export again.
type Status string

// Lifecycle states.
const (
	// StatusQueued: recorded and on its tier's queue.
	StatusQueued Status = "QUEUED"
	// StatusRunning: a worker holds it (until its lease runs out).
	StatusRunning Status = "RUNNING"
	// StatusDone: the object is complete in the export bucket.
	StatusDone Status = "DONE"
	// StatusFailed: given up; Reason says why.
	StatusFailed Status = "FAILED"
)

// Finished reports whether s is final: DONE or FAILED.
func (s Status) Finished() bool { return s == StatusDone || s == StatusFailed }

// Reasons of a FAILED export, shown to the tenant: stable codes, never an
// internal error text.
const (
	// ReasonTenantNotActive: the tenant stayed suspended for the whole retry
	// budget of the message.
	ReasonTenantNotActive = "tenant_not_active"
	// ReasonFailed: the export failed on every attempt (the cause is in the
	// worker's log, with tenant and export ids).
	ReasonFailed = "export_failed"
)

// Export is the record of one export of a tenant's data.
type Export struct {
	ID     string `json:"id"`
	Status Status `json:"status"`
	// ItemCount is the number of lines in the object (products and orders);
	// set when DONE.
	ItemCount int64 `json:"itemCount"`
	// ObjectKey is the object's key in the export bucket; set when DONE.
	ObjectKey string `json:"objectKey,omitempty"`
	// Reason is set when FAILED.
	Reason     string     `json:"reason,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
}

// ObjectKey is the key of an export's object: under the tenant's own prefix,
// the only one its scoped credentials may write
// (access.Resources.ExportBucketARN).
func ObjectKey(tenantID, exportID string) string {
	return tenantID + "/exports/" + exportID + ".jsonl"
}

// ContentType is the media type of an export object: one JSON document per
// line.
const ContentType = "application/x-ndjson"

// Line types.
const (
	LineProduct = "product"
	LineOrder   = "order"
)

// Line is one line of an export object: a product or an order exactly as the
// API returns it (sensitive fields decrypted).
type Line struct {
	Type    string           `json:"type"`
	Product *product.Product `json:"product,omitempty"`
	Order   *order.Order     `json:"order,omitempty"`
}
