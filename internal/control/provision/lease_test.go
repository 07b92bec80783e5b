package provision_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/provision"
	"github.com/tessera-saas/tessera/internal/control/tenantkey"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// overlapKMS is the emulator's KMS with a pause in every call; it records
// the most calls that were ever in flight at once. In a test with one
// tenant, two calls in flight together are two deliveries interleaving
// their steps.
type overlapKMS struct {
	tenantkey.KMS
	inFlight, most atomic.Int32
}

func (k *overlapKMS) enter() func() {
	n := k.inFlight.Add(1)
	for {
		m := k.most.Load()
		if n <= m || k.most.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(50 * time.Millisecond)
	return func() { k.inFlight.Add(-1) }
}

func (k *overlapKMS) CreateKey(ctx context.Context, in *kms.CreateKeyInput, o ...func(*kms.Options)) (*kms.CreateKeyOutput, error) {
	defer k.enter()()
	return k.KMS.CreateKey(ctx, in, o...)
}

func (k *overlapKMS) CreateAlias(ctx context.Context, in *kms.CreateAliasInput, o ...func(*kms.Options)) (*kms.CreateAliasOutput, error) {
	defer k.enter()()
	return k.KMS.CreateAlias(ctx, in, o...)
}

func (k *overlapKMS) DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, o ...func(*kms.Options)) (*kms.DescribeKeyOutput, error) {
	defer k.enter()()
	return k.KMS.DescribeKey(ctx, in, o...)
}

// TestOneBatchNeverInterleavesStepsOfATenant: a batch that carries the same
// onboarding twice (EventBridge and SQS deliver at least once) runs the two
// records one after the other, never side by side, and ends in one key.
func TestOneBatchNeverInterleavesStepsOfATenant(t *testing.T) {
	h := newHarness(t)
	deps := h.deps()
	k := &overlapKMS{KMS: deps.Keys}
	deps.Keys = k
	p := provision.New(deps)
	d := h.requested(t, catalog.TierBasic)
	first, second := sqsRecord(t, bus.TenantOnboardingRequested, d, 1), sqsRecord(t, bus.TenantOnboardingRequested, d, 1)
	first.MessageId, second.MessageId = "m-1-"+d.TenantID, "m-2-"+d.TenantID
	resp, err := p.Handle(h.ctx, events.SQSEvent{Records: []events.SQSMessage{first, second}})
	if err != nil {
		t.Fatal(err)
	}
	if n := k.most.Load(); n != 1 {
		t.Fatalf("%d KMS calls of one tenant were in flight at once: the two records interleaved their steps", n)
	}
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batch item failures %+v, want both records done", resp.BatchItemFailures)
	}
	h.assertActive(t, d)
	audit, err := deps.Catalog.AuditTrail(h.ctx, d.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	provisioned := 0
	for _, a := range audit {
		if a.Action == "provisioned" {
			provisioned++
		}
	}
	if provisioned != 1 {
		t.Fatalf("%d provisioned audit entries, want 1: %+v", provisioned, audit)
	}
}

// gateKMS holds the first CreateKey until open is closed; it counts every
// CreateKey that arrives, so a second one while the first is held is a
// second worker inside the tenant's steps.
type gateKMS struct {
	tenantkey.KMS
	entered chan struct{}
	open    chan struct{}
	calls   atomic.Int32
}

func newGate(k tenantkey.KMS) *gateKMS {
	return &gateKMS{KMS: k, entered: make(chan struct{}, 10), open: make(chan struct{})}
}

func (g *gateKMS) CreateKey(ctx context.Context, in *kms.CreateKeyInput, o ...func(*kms.Options)) (*kms.CreateKeyOutput, error) {
	g.calls.Add(1)
	g.entered <- struct{}{}
	<-g.open
	return g.KMS.CreateKey(ctx, in, o...)
}

// testQueue is a fresh SQS queue for the provisioner's delayed messages.
func (h harness) testQueue(t *testing.T) (*sqs.Client, string) {
	t.Helper()
	q := sqs.NewFromConfig(h.e.Config)
	out, err := q.CreateQueue(h.ctx, &sqs.CreateQueueInput{QueueName: aws.String("prov-" + tenant.NewID()[2:14])})
	if err != nil {
		t.Fatal(err)
	}
	url := aws.ToString(out.QueueUrl)
	t.Cleanup(func() { _, _ = q.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: &url}) })
	return q, url
}

// delayed is the queue's ApproximateNumberOfMessagesDelayed.
func (h harness) delayed(t *testing.T, q *sqs.Client, url string) string {
	t.Helper()
	out, err := q.GetQueueAttributes(h.ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed)]
}

// TestLeaseOfAnotherMessageIsRefusedWhileHeld: while one message of a
// provisioner works on a tenant, another message for that tenant in the
// same process does not get the lease. Its delivery ends with a delayed
// re-check on the queue, not a retry after the visibility timeout.
func TestLeaseOfAnotherMessageIsRefusedWhileHeld(t *testing.T) {
	h := newHarness(t)
	deps := h.deps()
	q, url := h.testQueue(t)
	deps.QueueURL, deps.CheckDelay = url, 2*time.Second
	g := newGate(deps.Keys)
	deps.Keys = g
	p := provision.New(deps)
	d := h.requested(t, catalog.TierBasic)

	var wg sync.WaitGroup
	var firstErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		firstErr = p.Process(h.ctx, bus.TenantOnboardingRequested, d)
	}()
	defer func() {
		select {
		case <-g.open:
		default:
			close(g.open)
		}
		wg.Wait()
	}()
	select {
	case <-g.entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the first message never reached CreateKey")
	}

	// A second message, same process, same tenant: Process refuses it.
	done := make(chan error, 1)
	go func() { done <- p.Process(h.ctx, bus.TenantOnboardingRequested, d) }()
	select {
	case err := <-done:
		if !errors.Is(err, provision.ErrLater) {
			t.Fatalf("second message: %v, want ErrLater", err)
		}
	case <-g.entered:
		t.Fatal("a second message of the same process got the lease and ran the tenant's steps")
	case <-time.After(20 * time.Second):
		t.Fatal("second message neither refused nor running")
	}

	// Through Handle: acknowledged, with a delayed re-check on the queue.
	rec := sqsRecord(t, bus.TenantOnboardingRequested, d, 1)
	rec.MessageId = "m-third-" + d.TenantID
	resp, err := p.Handle(h.ctx, events.SQSEvent{Records: []events.SQSMessage{rec}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v; want the record acknowledged and a re-check scheduled", resp, err)
	}
	if n := h.delayed(t, q, url); n != "1" {
		t.Fatalf("%s delayed messages on the queue, want 1 re-check", n)
	}
	if n := g.calls.Load(); n != 1 {
		t.Fatalf("CreateKey called %d times while the lease was held", n)
	}

	close(g.open)
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("first message: %v", firstErr)
	}
	h.assertActive(t, d)
	msg, err := q.ReceiveMessage(h.ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 5, MaxNumberOfMessages: 1})
	if err != nil || len(msg.Messages) != 1 {
		t.Fatalf("re-check never became visible: %v", err)
	}
	env, err := bus.Parse([]byte(aws.ToString(msg.Messages[0].Body)))
	if err != nil || env.DetailType != string(bus.TenantProvisioningCheck) || env.Detail.TenantID != d.TenantID || env.Detail.Attempt != 1 {
		t.Fatalf("re-check = %+v, %v", env, err)
	}
}
