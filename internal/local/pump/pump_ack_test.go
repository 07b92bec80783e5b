package pump_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tessera-saas/tessera/internal/local/pump"
	"github.com/tessera-saas/tessera/internal/local/testenv"
)

// A batch that the handler finished is deleted although the run's context
// ends between the handler's return and the delete: here the handler itself
// cancels it before returning, as `tessera up` stopping, or a test's cancel
// after the last export is DONE, does.
func TestFinishedBatchIsDeletedWhenTheRunEndsMeanwhile(t *testing.T) {
	e := testenv.Setup(t)
	q := sqs.NewFromConfig(e.Config)
	url, arn := queue(t, q, map[string]string{"VisibilityTimeout": "30"})
	send(t, q, url, "a", "b")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := pump.New(q, url, func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		cancel()
		return events.SQSEventResponse{}, nil
	}, pump.WithQueueARN(arn), pump.WithLogger(quiet))
	n, err := p.Once(ctx)
	if err != nil || n == 0 {
		t.Fatalf("Once = %d, %v", n, err)
	}
	// Not deleted, the messages would sit in flight (NotVisible) for the
	// 30 s visibility timeout.
	if left := count(t, q, url); left != 2-n {
		t.Fatalf("%d messages left after a run that finished %d of 2, want %d", left, n, 2-n)
	}
}

// deleteOverlap passes every call to the emulator's SQS and records how
// many DeleteMessageBatch calls on one queue were in flight at once; each
// delete is held a little so that overlaps, if the pump allows them, show.
type deleteOverlap struct {
	pump.SQSAPI
	mu             sync.Mutex
	active, most   int
	deleted, calls atomic.Int64
}

func (d *deleteOverlap) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	d.mu.Lock()
	d.active++
	d.most = max(d.most, d.active)
	d.mu.Unlock()
	defer func() { d.mu.Lock(); d.active--; d.mu.Unlock() }()
	d.calls.Add(1)
	time.Sleep(20 * time.Millisecond)
	out, err := d.SQSAPI.DeleteMessageBatch(ctx, in, opts...)
	if err == nil {
		d.deleted.Add(int64(len(out.Successful)))
	}
	return out, err
}

// The pumps of one queue in a process delete one batch at a time. moto's
// SQS rebuilds a queue's message list on each delete without a lock, so two
// deletes at once can each write back a list that still holds the other's
// message: a finished message comes back, in flight until its visibility
// timeout. That is how TestTierPoolsBoundExportsInFlight once saw
// "ApproximateNumberOfMessagesNotVisible = 1 after every export finished".
// (moto's own code races the same way in one process: 16 threads deleting
// 1,000 received messages left 200-400 of them in the queue.)
func TestPoolDeletesOneBatchAtATimePerQueue(t *testing.T) {
	e := testenv.Setup(t)
	q := &deleteOverlap{SQSAPI: sqs.NewFromConfig(e.Config)}
	url, arn := queue(t, q.SQSAPI.(*sqs.Client), map[string]string{"VisibilityTimeout": "30"})
	const messages, pumps = 24, 6
	var bodies []string
	for i := range messages {
		bodies = append(bodies, fmt.Sprint(i))
	}
	send(t, q.SQSAPI.(*sqs.Client), url, bodies...)
	var handled atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- pump.RunPool(ctx, pumps, q, url, func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			handled.Add(int64(len(ev.Records)))
			return events.SQSEventResponse{}, nil
		}, pump.WithBatchSize(1), pump.WithWaitTime(0), pump.WithQueueARN(arn), pump.WithLogger(quiet))
	}()
	deadline := time.Now().Add(30 * time.Second)
	for q.deleted.Load() < messages {
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %d handled, %d deleted of %d", handled.Load(), q.deleted.Load(), messages)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	q.mu.Lock()
	most := q.most
	q.mu.Unlock()
	if most != 1 {
		t.Fatalf("%d DeleteMessageBatch calls on one queue were in flight at once (of %d), want 1", most, q.calls.Load())
	}
	if left := count(t, q.SQSAPI.(*sqs.Client), url); left != 0 {
		t.Fatalf("%d messages left after every message was handled and deleted", left)
	}
}
