package exporter

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/export"
)

// Queue sends export messages; *sqs.Client satisfies it.
type Queue interface {
	SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// ErrNoQueue means the deployment has no export queue for the tenant's tier
// (a configuration error).
var ErrNoQueue = errors.New("exporter: no export queue for the tier")

// Requester starts and reads exports of the caller's tenant, named by its
// scope.
type Requester struct {
	records Source
	queue   Queue
	urls    map[catalog.Tier]string
}

// NewRequester returns a Requester that queues each tier's exports on
// queueURLs[tier]. It makes no AWS call.
func NewRequester(records Source, queue Queue, queueURLs map[catalog.Tier]string) *Requester {
	urls := make(map[catalog.Tier]string, len(queueURLs))
	for t, u := range queueURLs {
		urls[t] = u
	}
	return &Requester{records: records, queue: queue, urls: urls}
}

// Start records a QUEUED export of the caller's tenant and queues it on the
// tenant's tier queue. When the message cannot be queued, the record is
// removed again and the error returned: no export is left that nothing will
// run.
func (r *Requester) Start(ctx context.Context, sc catalog.Scope, requestID string) (export.Export, error) {
	tenantID, tier := sc.TenantID(), sc.Tier()
	url := r.urls[tier]
	if url == "" {
		return export.Export{}, fmt.Errorf("start export for tenant %s: tier %q: %w", tenantID, tier, ErrNoQueue)
	}
	records := r.records.For(sc)
	e, err := records.CreateExport(ctx)
	if err != nil {
		return export.Export{}, fmt.Errorf("start export: %w", err)
	}
	msg := export.Message{SchemaVersion: export.SchemaVersion, TenantID: tenantID, ExportID: e.ID, Tier: tier, RequestID: requestID}
	attrs := make(map[string]sqstypes.MessageAttributeValue, 2)
	for k, v := range msg.Attributes() {
		attrs[k] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	_, err = r.queue.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:          aws.String(url),
		MessageBody:       aws.String(msg.Body()),
		MessageAttributes: attrs,
		// A message group per tenant makes the standard queue a fair queue:
		// one tenant's burst of exports does not hold up the other tenants
		// of its tier.
		MessageGroupId: aws.String(tenantID),
	})
	if err != nil {
		sendErr := fmt.Errorf("queue export %s of tenant %s: %w", e.ID, tenantID, err)
		if derr := records.DeleteQueuedExport(context.WithoutCancel(ctx), e.ID); derr != nil {
			return export.Export{}, errors.Join(sendErr, fmt.Errorf("undo export record: %w", derr))
		}
		return export.Export{}, sendErr
	}
	return e, nil
}

// Get reads an export of the caller's tenant; store.ErrNotFound for an
// unknown id or another tenant's.
func (r *Requester) Get(ctx context.Context, sc catalog.Scope, id string) (export.Export, error) {
	return r.records.For(sc).GetExport(ctx, id)
}
