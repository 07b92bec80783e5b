package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// EventBridge is the part of the EventBridge API the outbox uses.
type EventBridge interface {
	PutEvents(context.Context, *eventbridge.PutEventsInput, ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Outbox publishes the catalog's outbox events to the bus.
type Outbox struct {
	catalog *store.Catalog
	eb      EventBridge
	busName string
	log     *slog.Logger
}

// New returns the outbox of catalog, publishing to busName.
func New(catalog *store.Catalog, eb EventBridge, busName string, log *slog.Logger) *Outbox {
	return &Outbox{catalog: catalog, eb: eb, busName: busName, log: log}
}

// Event renders an event for the outbox. The detail gets the schema version
// and must satisfy the contract of dt (bus.Validate, what bus.Parse checks
// on the consumer's side): an event its consumers would refuse is an error
// here, before anything is written, wrapping bus.ErrInvalidEvent.
func Event(dt bus.DetailType, d bus.Detail) (*store.OutboxEvent, error) {
	d.SchemaVersion = bus.SchemaVersion
	if err := bus.Validate(dt, d); err != nil {
		return nil, fmt.Errorf("outbox: refuse %s of tenant %q: %w", dt, d.TenantID, err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("outbox: render %s of tenant %q: %w", dt, d.TenantID, err)
	}
	return &store.OutboxEvent{DetailType: string(dt), Detail: string(b)}, nil
}

// Entry is the PutEvents entry that Publish sends to busName for ev.
func Entry(busName string, ev store.OutboxEvent) ebtypes.PutEventsRequestEntry {
	return ebtypes.PutEventsRequestEntry{
		EventBusName: aws.String(busName),
		Source:       aws.String(bus.Source),
		DetailType:   aws.String(ev.DetailType),
		Detail:       aws.String(ev.Detail),
		Resources:    []string{},
	}
}

// Publish sends one outbox event and removes it from the outbox. On
// failure the event stays for the sweep.
func (o *Outbox) Publish(ctx context.Context, ev store.OutboxEvent) error {
	out, err := o.eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{Entry(o.busName, ev)}})
	if err != nil {
		return fmt.Errorf("publish %s of %s: %w", ev.DetailType, ev.TenantID, err)
	}
	if out.FailedEntryCount > 0 {
		e := out.Entries[0]
		return fmt.Errorf("publish %s of %s: %s: %s", ev.DetailType, ev.TenantID, aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage))
	}
	return o.catalog.EventPublished(ctx, ev)
}

// PublishOrKeep publishes and logs a failure instead of returning it: the
// state change has happened and the sweep will announce it.
func (o *Outbox) PublishOrKeep(ctx context.Context, ev *store.OutboxEvent) {
	if ev == nil {
		return
	}
	if err := o.Publish(ctx, *ev); err != nil {
		o.log.Warn("event left in the outbox for the sweep", "tenantId", ev.TenantID, "detailType", ev.DetailType, "error", err.Error())
	}
}

// Sweep republishes events older than age, up to limit, and returns how
// many it published.
func (o *Outbox) Sweep(ctx context.Context, age time.Duration, limit int32) (int, error) {
	evs, err := o.catalog.PendingEvents(ctx, time.Now().Add(-age), limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ev := range evs {
		if err := o.Publish(ctx, ev); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
