package billing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// MeterRequests is the meter of API requests: the Stripe meter's event name.
const MeterRequests = "api_requests"

// MaxIdentifierLen is the longest meter event identifier Stripe accepts.
const MaxIdentifierLen = 100

// MeterEvent is one hour of one tenant's usage on one meter.
type MeterEvent struct {
	TenantID string
	// Customer is the tenant's customer at the provider
	// (catalog.Record.BillingCustomerID).
	Customer string
	Meter    string
	// Hour is the start of the UTC hour the value counts; the event's
	// timestamp.
	Hour  time.Time
	Value int64
	// Identifier is Identifier(TenantID, Meter, Hour).
	Identifier string
}

// Result is the provider's answer to one event.
type Result struct {
	Event MeterEvent
	// ID is the provider's identifier of the recorded event, Created its
	// creation time there; Err is why it was not recorded.
	ID      string
	Created time.Time
	Err     error
}

// Reporter sends meter events to a payment provider. Report returns one
// Result per event, in order; its error is for a failure of the whole call.
//
// Stripe is one implementation. AWS Marketplace would be another: its
// BatchMeterUsage takes up to 25 UsageRecords per call, each with the
// CustomerIdentifier (Customer), Dimension (Meter), Quantity (Value) and
// Timestamp (Hour); Marketplace deduplicates records by customer, dimension
// and hour itself, so Identifier would only be recorded in the mark, and
// each UsageRecordResult's Status (Success, CustomerNotSubscribed,
// DuplicateRecord) would become the Result (a DuplicateRecord is a
// success: the hour was recorded before).
type Reporter interface {
	Report(ctx context.Context, events []MeterEvent) ([]Result, error)
}

// Identifier is the meter event identifier of a tenant's meter and hour:
// the hex SHA-256 of "tenant|meter|hour" (hour in RFC 3339, UTC), 64
// characters, within MaxIdentifierLen. The same hour always gets the same
// identifier, so a re-sent event is recognised as the same event.
func Identifier(tenantID, meter string, hour time.Time) string {
	sum := sha256.Sum256([]byte(tenantID + "|" + meter + "|" + hour.UTC().Truncate(time.Hour).Format(time.RFC3339)))
	id := hex.EncodeToString(sum[:])
	if len(id) > MaxIdentifierLen {
		id = id[:MaxIdentifierLen]
	}
	return id
}
