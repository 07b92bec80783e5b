package pump

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Handler is a Lambda handler for SQS batches that reports partial batch
// failures (ReportBatchItemFailures).
type Handler func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error)

// SQSAPI is the part of the SQS API the pump uses; *sqs.Client satisfies it.
type SQSAPI interface {
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// Errors of the pump.
var (
	// ErrBatchFailed is wrapped when the whole batch failed: the handler
	// returned an error, panicked, or reported an item that is not in the
	// batch. No message of the batch is deleted.
	ErrBatchFailed = errors.New("batch failed")
	// ErrNotDrained is returned by Drain when messages were still arriving
	// after its last round.
	ErrNotDrained = errors.New("queue not drained")
)

// Defaults, as Lambda's event source mapping has them where it applies.
const (
	DefaultBatchSize = 10
	DefaultWaitTime  = time.Second
	maxBackoff       = 30 * time.Second
	idlePause        = 200 * time.Millisecond
)

// Pump feeds one queue to one handler.
type Pump struct {
	c        SQSAPI
	queueURL string
	h        Handler
	log      *slog.Logger

	batchSize int32
	wait      time.Duration
	// retryAfter, when set, is the visibility timeout given to failed
	// messages instead of the queue's own.
	retryAfter *time.Duration

	mu     sync.Mutex
	arn    string
	region string
}

// Option configures a Pump.
type Option func(*Pump)

// WithBatchSize sets how many messages one receive asks for, 1 to 10
// (default 10).
func WithBatchSize(n int) Option {
	return func(p *Pump) { p.batchSize = int32(min(max(n, 1), 10)) }
}

// WithWaitTime sets the long-poll wait of each receive, 0 to 20 s in whole
// seconds (default 1 s).
func WithWaitTime(d time.Duration) Option {
	return func(p *Pump) { p.wait = min(max(d, 0), 20*time.Second) }
}

// WithRetryAfter makes failed messages visible again after d instead of
// the queue's visibility timeout. Lambda has no such setting (failed
// messages stay invisible for the queue's timeout); use it only when a
// local queue's timeout is long.
func WithRetryAfter(d time.Duration) Option {
	return func(p *Pump) { d = max(d, 0); p.retryAfter = &d }
}

// WithQueueARN sets the event source ARN of the records, saving the
// GetQueueAttributes call that otherwise finds it.
func WithQueueARN(arn string) Option {
	return func(p *Pump) { p.arn, p.region = arn, regionOf(arn) }
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(p *Pump) { p.log = l }
}

// New returns a Pump that feeds the queue at queueURL to h.
func New(c SQSAPI, queueURL string, h Handler, opts ...Option) *Pump {
	p := &Pump{c: c, queueURL: queueURL, h: h, log: slog.Default(), batchSize: DefaultBatchSize, wait: DefaultWaitTime}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Once receives one batch, hands it to the handler and deletes the messages
// the handler did not report as failed. It returns how many messages it
// delivered; the error wraps ErrBatchFailed when the whole batch failed.
func (p *Pump) Once(ctx context.Context) (int, error) {
	arn, region, err := p.source(ctx)
	if err != nil {
		return 0, err
	}
	out, err := p.c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(p.queueURL),
		MaxNumberOfMessages:         p.batchSize,
		WaitTimeSeconds:             int32(p.wait / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		return 0, fmt.Errorf("pump: receive from %s: %w", p.queueURL, err)
	}
	if len(out.Messages) == 0 {
		return 0, nil
	}
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(out.Messages))}
	for i, m := range out.Messages {
		ev.Records[i] = record(m, arn, region)
	}
	resp, err := p.call(ctx, ev)
	n := len(ev.Records)
	if err != nil {
		p.retry(ctx, ev.Records)
		return n, fmt.Errorf("pump: %d messages from %s: %w: %w", n, p.queueURL, ErrBatchFailed, err)
	}
	failed := make(map[string]bool, len(resp.BatchItemFailures))
	inBatch := make(map[string]bool, n)
	for _, r := range ev.Records {
		inBatch[r.MessageId] = true
	}
	for _, f := range resp.BatchItemFailures {
		if !inBatch[f.ItemIdentifier] {
			// Lambda treats an unknown or empty identifier as a failure of
			// the whole batch.
			p.retry(ctx, ev.Records)
			return n, fmt.Errorf("pump: %d messages from %s: %w: handler reported item %q, which is not in the batch",
				n, p.queueURL, ErrBatchFailed, f.ItemIdentifier)
		}
		failed[f.ItemIdentifier] = true
	}
	var done, retry []events.SQSMessage
	for _, r := range ev.Records {
		if failed[r.MessageId] {
			retry = append(retry, r)
		} else {
			done = append(done, r)
		}
	}
	p.retry(ctx, retry)
	if len(retry) > 0 {
		p.log.Info("messages left for retry", "queue", p.queueURL, "failed", len(retry), "delivered", n)
	}
	return n, p.delete(ctx, done)
}

// Run calls Once until ctx ends, logging failed batches and backing off
// while SQS itself fails. It returns nil when ctx ends, and an error only
// when the queue cannot be found at all.
func (p *Pump) Run(ctx context.Context) error {
	if _, _, err := p.source(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		n, err := p.Once(ctx)
		switch {
		case err == nil && n == 0 && p.wait < time.Second:
			// A short poll that found nothing: do not spin.
			sleep(ctx, idlePause)
			continue
		case err == nil:
			backoff = 0
			continue
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, ErrBatchFailed):
			p.log.Warn("batch failed; its messages come back after the visibility timeout", "queue", p.queueURL, "error", err.Error())
			continue
		}
		backoff = min(max(2*backoff, time.Second), maxBackoff)
		p.log.Error("pump: SQS call failed; backing off", "queue", p.queueURL, "backoff", backoff.String(), "error", err.Error())
		sleep(ctx, backoff)
	}
	return nil
}

// sleep waits for d or the end of ctx.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Drain calls Once until a receive returns nothing, at most maxRounds
// times, and returns how many messages it delivered. It stops at the first
// error; messages still arriving after maxRounds give ErrNotDrained.
// Messages that failed stay invisible for their visibility timeout, so
// Drain does not wait for them.
func (p *Pump) Drain(ctx context.Context, maxRounds int) (int, error) {
	total := 0
	for range maxRounds {
		n, err := p.Once(ctx)
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, nil
		}
	}
	return total, fmt.Errorf("pump: %s after %d rounds (%d messages): %w", p.queueURL, maxRounds, total, ErrNotDrained)
}

// call runs the handler, turning a panic into an error as Lambda turns it
// into a failed invocation.
func (p *Pump) call(ctx context.Context, ev events.SQSEvent) (resp events.SQSEventResponse, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return p.h(ctx, ev)
}

// record builds the record Lambda builds from a received message.
func record(m types.Message, arn, region string) events.SQSMessage {
	r := events.SQSMessage{
		MessageId:              aws.ToString(m.MessageId),
		ReceiptHandle:          aws.ToString(m.ReceiptHandle),
		Body:                   aws.ToString(m.Body),
		Md5OfBody:              aws.ToString(m.MD5OfBody),
		Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
		Attributes:             make(map[string]string, len(m.Attributes)),
		MessageAttributes:      make(map[string]events.SQSMessageAttribute, len(m.MessageAttributes)),
		EventSourceARN:         arn,
		EventSource:            "aws:sqs",
		AWSRegion:              region,
	}
	for k, v := range m.Attributes {
		r.Attributes[k] = v
	}
	for k, v := range m.MessageAttributes {
		r.MessageAttributes[k] = events.SQSMessageAttribute{
			DataType:         aws.ToString(v.DataType),
			StringValue:      v.StringValue,
			BinaryValue:      v.BinaryValue,
			StringListValues: v.StringListValues,
			BinaryListValues: v.BinaryListValues,
		}
	}
	return r
}

// delete removes handled messages.
func (p *Pump) delete(ctx context.Context, recs []events.SQSMessage) error {
	if len(recs) == 0 {
		return nil
	}
	entries := make([]types.DeleteMessageBatchRequestEntry, len(recs))
	for i, r := range recs {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: aws.String(r.ReceiptHandle)}
	}
	// One delete per queue at a time in this process (see deleteLocks).
	mu := deleteLock(p.queueURL)
	mu.Lock()
	defer mu.Unlock()
	// Deleting must not be cut short by the end of ctx: the work is done.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	defer cancel()
	out, err := p.c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.queueURL), Entries: entries})
	if err != nil {
		return fmt.Errorf("pump: delete %d messages from %s: %w", len(recs), p.queueURL, err)
	}
	if len(out.Failed) > 0 {
		f := out.Failed[0]
		return fmt.Errorf("pump: delete %d messages from %s: %d failed, first: %s: %s",
			len(recs), p.queueURL, len(out.Failed), aws.ToString(f.Code), aws.ToString(f.Message))
	}
	return nil
}

// retry shortens the visibility timeout of failed messages when
// WithRetryAfter asked for it; otherwise they stay invisible for the
// queue's timeout, as with Lambda.
func (p *Pump) retry(ctx context.Context, recs []events.SQSMessage) {
	if p.retryAfter == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	defer cancel()
	for _, r := range recs {
		_, err := p.c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(p.queueURL),
			ReceiptHandle: aws.String(r.ReceiptHandle), VisibilityTimeout: int32(*p.retryAfter / time.Second)})
		if err != nil {
			// Not fatal: the message comes back after the queue's timeout.
			p.log.Warn("change visibility of failed message", "queue", p.queueURL, "messageId", r.MessageId, "error", err.Error())
		}
	}
}

// ackTimeout bounds the calls that settle a handled batch (delete, change
// visibility). They run detached from the run's context, which may end
// between the handler's return and them: the work is done, and a message
// not deleted would be delivered again.
const ackTimeout = 10 * time.Second

// deleteLocks holds one mutex per queue URL: the pumps of a queue in this
// process delete one batch at a time. moto's SQS rebuilds a queue's message
// list on each delete without a lock, so two deletes at once can each write
// back a list that still holds the other's message, and a finished message
// then comes back, in flight until its visibility timeout (seen as
// ApproximateNumberOfMessagesNotVisible = 1 after every export finished).
// SQS itself has no such race; locally, serial deletes cost nothing.
var deleteLocks sync.Map // string -> *sync.Mutex

func deleteLock(queueURL string) *sync.Mutex {
	mu, _ := deleteLocks.LoadOrStore(queueURL, new(sync.Mutex))
	return mu.(*sync.Mutex)
}

// source returns the queue's ARN and Region, asking SQS once.
func (p *Pump) source(ctx context.Context) (string, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.arn != "" {
		return p.arn, p.region, nil
	}
	out, err := p.c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(p.queueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", "", fmt.Errorf("pump: arn of queue %s: %w", p.queueURL, err)
	}
	p.arn = out.Attributes[string(types.QueueAttributeNameQueueArn)]
	p.region = regionOf(p.arn)
	return p.arn, p.region, nil
}

// regionOf is the Region field of an ARN (arn:partition:service:region:...).
func regionOf(arn string) string {
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) < 5 {
		return ""
	}
	return parts[3]
}
