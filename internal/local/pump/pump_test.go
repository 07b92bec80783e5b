package pump_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tessera-saas/tessera/internal/local/pump"
	"github.com/tessera-saas/tessera/internal/local/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var quiet = slog.New(slog.DiscardHandler)

// queue creates a temporary queue with attrs and returns its URL and ARN.
func queue(t *testing.T, q *sqs.Client, attrs map[string]string) (string, string) {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("pump-it-%d", time.Now().UnixNano())
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name, Attributes: attrs})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	url := aws.ToString(out.QueueUrl)
	t.Cleanup(func() { _, _ = q.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: &url}) })
	a, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatalf("queue arn: %v", err)
	}
	return url, a.Attributes[string(types.QueueAttributeNameQueueArn)]
}

func send(t *testing.T, q *sqs.Client, url string, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		if _, err := q.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(b)}); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
}

// count is the number of messages in the queue, visible or in flight.
func count(t *testing.T, q *sqs.Client, url string) int {
	t.Helper()
	out, err := q.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible, types.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		t.Fatalf("queue attributes: %v", err)
	}
	n := 0
	for _, v := range out.Attributes {
		i, _ := strconv.Atoi(v)
		n += i
	}
	return n
}

// recorder is a handler that records what it gets and fails as told.
type recorder struct {
	mu      sync.Mutex
	events  []events.SQSEvent
	respond func(events.SQSEvent) (events.SQSEventResponse, error)
}

func (r *recorder) handle(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	if r.respond == nil {
		return events.SQSEventResponse{}, nil
	}
	return r.respond(ev)
}

func (r *recorder) records() []events.SQSMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []events.SQSMessage
	for _, ev := range r.events {
		all = append(all, ev.Records...)
	}
	return all
}

// failBodies reports the records with the given bodies as failed.
func failBodies(bodies ...string) func(events.SQSEvent) (events.SQSEventResponse, error) {
	return func(ev events.SQSEvent) (events.SQSEventResponse, error) {
		var resp events.SQSEventResponse
		for _, r := range ev.Records {
			if slices.Contains(bodies, r.Body) {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			}
		}
		return resp, nil
	}
}

func TestRecordsAreBuiltAsLambdaBuildsThem(t *testing.T) {
	e := testenv.Setup(t)
	q := sqs.NewFromConfig(e.Config)
	url, arn := queue(t, q, nil)
	ctx := context.Background()
	sent, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(`{"hello":"world"}`),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"tenantId": {DataType: aws.String("String"), StringValue: aws.String("acme")},
			"attempt":  {DataType: aws.String("Number"), StringValue: aws.String("3")},
			"blob":     {DataType: aws.String("Binary"), BinaryValue: []byte{1, 2, 3}},
		}})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	rec := &recorder{}
	n, err := pump.New(q, url, rec.handle, pump.WithWaitTime(0), pump.WithLogger(quiet)).Once(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Once: %d, %v", n, err)
	}
	r := rec.records()[0]
	sum := md5.Sum([]byte(`{"hello":"world"}`))
	checks := []struct {
		name      string
		got, want string
	}{
		{"messageId", r.MessageId, aws.ToString(sent.MessageId)},
		{"body", r.Body, `{"hello":"world"}`},
		{"md5OfBody", r.Md5OfBody, hex.EncodeToString(sum[:])},
		{"md5OfMessageAttributes", r.Md5OfMessageAttributes, aws.ToString(sent.MD5OfMessageAttributes)},
		{"eventSource", r.EventSource, "aws:sqs"},
		{"eventSourceARN", r.EventSourceARN, arn},
		{"awsRegion", r.AWSRegion, e.Settings.Region()},
		{"ApproximateReceiveCount", r.Attributes["ApproximateReceiveCount"], "1"},
		{"tenantId attribute", aws.ToString(r.MessageAttributes["tenantId"].StringValue), "acme"},
		{"tenantId data type", r.MessageAttributes["tenantId"].DataType, "String"},
		{"attempt data type", r.MessageAttributes["attempt"].DataType, "Number"},
		{"blob", string(r.MessageAttributes["blob"].BinaryValue), "\x01\x02\x03"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if r.ReceiptHandle == "" {
		t.Error("no receipt handle")
	}
	for _, a := range []string{"SentTimestamp", "ApproximateFirstReceiveTimestamp"} {
		if ms, err := strconv.ParseInt(r.Attributes[a], 10, 64); err != nil || time.Since(time.UnixMilli(ms)) > time.Minute {
			t.Errorf("attribute %s = %q, want a recent epoch in ms", a, r.Attributes[a])
		}
	}
	if r.Attributes["SenderId"] == "" {
		t.Error("attribute SenderId missing")
	}
	t.Logf("attributes moto returns: %v", r.Attributes)
	if c := count(t, q, url); c != 0 {
		t.Errorf("%d messages left after success", c)
	}
}

func TestBatchOutcomes(t *testing.T) {
	e := testenv.Setup(t)
	q := sqs.NewFromConfig(e.Config)
	tests := []struct {
		name    string
		respond func(events.SQSEvent) (events.SQSEventResponse, error)
		wantErr error
		left    []string // bodies that must come back
	}{
		{name: "all succeed"},
		{name: "one item fails", respond: failBodies("b"), left: []string{"b"}},
		{name: "every item fails", respond: failBodies("a", "b", "c"), left: []string{"a", "b", "c"}},
		{name: "handler error fails the batch", wantErr: pump.ErrBatchFailed, left: []string{"a", "b", "c"},
			respond: func(events.SQSEvent) (events.SQSEventResponse, error) {
				return events.SQSEventResponse{}, errors.New("database down")
			}},
		{name: "unknown item fails the batch", wantErr: pump.ErrBatchFailed, left: []string{"a", "b", "c"},
			respond: func(events.SQSEvent) (events.SQSEventResponse, error) {
				return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "not-a-message"}}}, nil
			}},
		{name: "panic fails the batch", wantErr: pump.ErrBatchFailed, left: []string{"a", "b", "c"},
			respond: func(events.SQSEvent) (events.SQSEventResponse, error) { panic("boom") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, _ := queue(t, q, nil)
			send(t, q, url, "a", "b", "c")
			ctx := context.Background()
			rec := &recorder{respond: tt.respond}
			// Retry at once, so that what was left can be read back now.
			p := pump.New(q, url, rec.handle, pump.WithWaitTime(0), pump.WithRetryAfter(0), pump.WithLogger(quiet))
			delivered := 0
			for delivered < 3 { // moto may split a receive
				n, err := p.Once(ctx)
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
					t.Fatalf("Once: %v, want %v", err, tt.wantErr)
				}
				if n == 0 {
					t.Fatalf("delivered %d of 3", delivered)
				}
				delivered += n
			}
			var back []string
			check := pump.New(q, url, func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				for _, r := range ev.Records {
					back = append(back, r.Body)
					if r.Attributes["ApproximateReceiveCount"] != "2" {
						t.Errorf("%s came back with ApproximateReceiveCount %s", r.Body, r.Attributes["ApproximateReceiveCount"])
					}
				}
				return events.SQSEventResponse{}, nil
			}, pump.WithWaitTime(0), pump.WithLogger(quiet))
			if _, err := check.Drain(ctx, 5); err != nil {
				t.Fatalf("Drain: %v", err)
			}
			slices.Sort(back)
			if !slices.Equal(back, tt.left) {
				t.Errorf("came back: %v, want %v", back, tt.left)
			}
			if c := count(t, q, url); c != 0 {
				t.Errorf("%d messages left", c)
			}
		})
	}
}

// TestFailedItemsRetryThenDeadLetter leaves failed items to the queue's
// visibility timeout, as Lambda does, and checks the redrive policy.
func TestFailedItemsRetryThenDeadLetter(t *testing.T) {
	e := testenv.Setup(t)
	q := sqs.NewFromConfig(e.Config)
	ctx := context.Background()
	dlqURL, dlqARN := queue(t, q, nil)
	redrive, _ := json.Marshal(map[string]any{"deadLetterTargetArn": dlqARN, "maxReceiveCount": 2})
	url, _ := queue(t, q, map[string]string{"VisibilityTimeout": "1", "RedrivePolicy": string(redrive)})
	send(t, q, url, "ok", "poison")

	rec := &recorder{respond: failBodies("poison")}
	p := pump.New(q, url, rec.handle, pump.WithWaitTime(0), pump.WithLogger(quiet))
	receives := func() map[string]string {
		got := map[string]string{}
		for _, r := range rec.records() {
			got[r.Body] += r.Attributes["ApproximateReceiveCount"]
		}
		return got
	}
	if n, err := p.Drain(ctx, 5); err != nil || n != 2 {
		t.Fatalf("first drain: %d, %v", n, err)
	}
	if n, err := p.Once(ctx); err != nil || n != 0 {
		t.Fatalf("failed item came back before its visibility timeout: %d, %v", n, err)
	}
	// SQS makes a message visible again "after" its visibility timeout, not
	// at once: moto does it on the next receive, LocalStack on a one-second
	// tick. So the receives poll, for a few seconds.
	time.Sleep(1100 * time.Millisecond)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		n, err := p.Once(ctx)
		if err != nil || n > 1 || (n == 0 && time.Now().After(deadline)) {
			t.Fatalf("after the visibility timeout: %d, %v", n, err)
		}
		if n == 1 {
			break
		}
	}
	var dead []events.SQSMessage
	dlq := pump.New(q, dlqURL, func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		dead = append(dead, ev.Records...)
		return events.SQSEventResponse{}, nil
	}, pump.WithWaitTime(0), pump.WithLogger(quiet))
	time.Sleep(1100 * time.Millisecond)
	for deadline := time.Now().Add(5 * time.Second); len(dead) == 0; time.Sleep(200 * time.Millisecond) {
		if n, err := p.Once(ctx); err != nil || n != 0 {
			t.Fatalf("past maxReceiveCount the message was delivered again: %d, %v", n, err)
		}
		if _, err := dlq.Drain(ctx, 5); err != nil {
			t.Fatalf("drain DLQ: %v", err)
		}
		if time.Now().After(deadline) {
			break
		}
	}
	if got := receives(); got["ok"] != "1" || got["poison"] != "12" {
		t.Errorf("receive counts per body: %v, want ok 1, poison 1 then 2", got)
	}
	if c := count(t, q, url); c != 0 {
		t.Errorf("%d messages left in the source queue", c)
	}
	if len(dead) != 1 || dead[0].Body != "poison" {
		t.Fatalf("DLQ holds %+v, want the poison message", dead)
	}
	t.Logf("in the DLQ: ApproximateReceiveCount %s, attributes %v", dead[0].Attributes["ApproximateReceiveCount"], dead[0].Attributes)
}

func TestDelayedMessageWaitsForItsDelay(t *testing.T) {
	e := testenv.Setup(t)
	q := sqs.NewFromConfig(e.Config)
	ctx := context.Background()
	url, _ := queue(t, q, nil)
	sentAt := time.Now()
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("later"), DelaySeconds: 1}); err != nil {
		t.Fatalf("send: %v", err)
	}
	var at time.Time
	p := pump.New(q, url, func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		at = time.Now()
		return events.SQSEventResponse{}, nil
	}, pump.WithWaitTime(0), pump.WithLogger(quiet))
	if n, err := p.Once(ctx); err != nil || n != 0 {
		t.Fatalf("delivered before its delay: %d, %v", n, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for at.IsZero() && time.Now().Before(deadline) {
		if _, err := p.Once(ctx); err != nil {
			t.Fatalf("Once: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if at.IsZero() {
		t.Fatal("never delivered")
	}
	if d := at.Sub(sentAt); d < time.Second {
		t.Errorf("delivered %v after sending, before the 1 s delay", d)
	}
	t.Logf("delivered %v after sending with DelaySeconds=1", at.Sub(sentAt).Round(time.Millisecond))
}

func TestRunStopsWithContext(t *testing.T) {
	e := testenv.Setup(t)
	q := sqs.NewFromConfig(e.Config)
	url, _ := queue(t, q, nil)
	send(t, q, url, "a", "b")
	got := make(chan string, 2)
	ctx, cancel := context.WithCancel(context.Background())
	p := pump.New(q, url, func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		for _, r := range ev.Records {
			got <- r.Body
		}
		return events.SQSEventResponse{}, nil
	}, pump.WithLogger(quiet))
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	for range 2 {
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not deliver")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop with its context")
	}
}

func TestMissingQueue(t *testing.T) {
	e := testenv.Setup(t)
	q := sqs.NewFromConfig(e.Config)
	url := "http://sqs.us-east-1.localhost/123456789012/no-such-queue"
	p := pump.New(q, url, (&recorder{}).handle, pump.WithLogger(quiet))
	if _, err := p.Once(context.Background()); err == nil {
		t.Error("Once on a missing queue succeeded")
	}
	if err := p.Run(context.Background()); err == nil {
		t.Error("Run on a missing queue did not fail")
	}
}
