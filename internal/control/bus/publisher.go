package bus

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// PutEventsAPI is the part of the EventBridge API the Publisher uses;
// *eventbridge.Client satisfies it.
type PutEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// ErrEntryFailed is wrapped when EventBridge accepted the call but rejected
// the entry (FailedEntryCount > 0); the error names the entry's ErrorCode.
var ErrEntryFailed = errors.New("entry rejected by EventBridge")

// Publisher sends control-plane events to one event bus.
type Publisher struct {
	c       PutEventsAPI
	busName string
}

// NewPublisher returns a Publisher that sends to busName through c.
func NewPublisher(c PutEventsAPI, busName string) *Publisher {
	return &Publisher{c: c, busName: busName}
}

// Entry renders an event as a PutEvents entry, for callers that batch or
// keep events in an outbox. It sets the schema version and validates the
// detail against the contract of dt.
func (p *Publisher) Entry(dt DetailType, d Detail) (types.PutEventsRequestEntry, error) {
	d.SchemaVersion = SchemaVersion
	if err := Validate(dt, d); err != nil {
		return types.PutEventsRequestEntry{}, fmt.Errorf("bus: render %s of tenant %s: %w", dt, d.TenantID, err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return types.PutEventsRequestEntry{}, fmt.Errorf("bus: render %s of tenant %s: %w", dt, d.TenantID, err)
	}
	return types.PutEventsRequestEntry{
		EventBusName: aws.String(p.busName),
		Source:       aws.String(Source),
		DetailType:   aws.String(string(dt)),
		Detail:       aws.String(string(b)),
	}, nil
}

// Publish validates and sends one event.
func (p *Publisher) Publish(ctx context.Context, dt DetailType, d Detail) error {
	e, err := p.Entry(dt, d)
	if err != nil {
		return err
	}
	out, err := p.c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{e}})
	if err != nil {
		return fmt.Errorf("bus: publish %s of tenant %s to %s: %w", dt, d.TenantID, p.busName, err)
	}
	if out.FailedEntryCount > 0 {
		code, msg := "unknown", ""
		if len(out.Entries) > 0 {
			code, msg = aws.ToString(out.Entries[0].ErrorCode), aws.ToString(out.Entries[0].ErrorMessage)
		}
		return fmt.Errorf("bus: publish %s of tenant %s to %s: %w: %s: %s", dt, d.TenantID, p.busName, ErrEntryFailed, code, msg)
	}
	return nil
}

// NewCorrelationID returns a random (version 4) UUID.
func NewCorrelationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
