package provision_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tessera-saas/tessera/internal/control/apikey"
	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/provision"
	"github.com/tessera-saas/tessera/internal/local/bootstrap"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// Named by value so that these tests compile against the code before the
// failed-offboarding path existed.
const (
	statusOffboardFailed    = catalog.Status("OFFBOARD_FAILED")
	tenantOffboardingFailed = bus.DetailType("TenantOffboardingFailed")
)

// offboarding is the detail of the TenantOffboardingRequested event of the
// tenant onboarded with d, as the operator API publishes it.
func offboarding(d bus.Detail) bus.Detail {
	return bus.Detail{SchemaVersion: bus.SchemaVersion, TenantID: d.TenantID, Tier: d.Tier, CorrelationID: d.CorrelationID, Reason: "offboarded by operator"}
}

// failingDelete is the emulator's API Gateway whose DeleteApiKey always
// fails, as an outage would (the emulator cannot be made to fail).
type failingDelete struct{ apikey.API }

func (failingDelete) DeleteApiKey(context.Context, *apigateway.DeleteApiKeyInput, ...func(*apigateway.Options)) (*apigateway.DeleteApiKeyOutput, error) {
	return nil, errors.New("api gateway unavailable")
}

// busEvents routes the bus's events of detail type dt for one tenant to a
// fresh queue, as a consumer's rule would, and returns the queue.
func (h harness) busEvents(t *testing.T, dt bus.DetailType, tenantID string) (*sqs.Client, string) {
	t.Helper()
	q, url := h.testQueue(t)
	attrs, err := q.GetQueueAttributes(h.ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	eb := eventbridge.NewFromConfig(h.e.Config)
	name, busName := "offb-"+tenantID[2:14], h.e.Settings.EventBus
	pattern, _ := json.Marshal(map[string]any{"source": []string{bus.Source}, "detail-type": []string{string(dt)},
		"detail": map[string]any{"tenantId": []string{tenantID}}})
	if _, err := eb.PutRule(h.ctx, &eventbridge.PutRuleInput{Name: &name, EventBusName: &busName,
		EventPattern: aws.String(string(pattern)), State: ebtypes.RuleStateEnabled}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: &name, EventBusName: &busName, Ids: []string{"q"}})
		_, _ = eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: &name, EventBusName: &busName})
	})
	if _, err := eb.PutTargets(h.ctx, &eventbridge.PutTargetsInput{Rule: &name, EventBusName: &busName,
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}}}); err != nil {
		t.Fatal(err)
	}
	return q, url
}

// TestOffboardingThatKeepsFailingEndsOffboardFailed: after the retry budget
// the tenant is OFFBOARD_FAILED with a readable reason, an audit entry and a
// TenantOffboardingFailed event, and an operator's new offboarding request (OFFBOARD_FAILED -> OFFBOARDING, as
// POST /offboard does) finishes the job.
func TestOffboardingThatKeepsFailingEndsOffboardFailed(t *testing.T) {
	h := newHarness(t)
	onb, rec, _ := h.onboarded(t, catalog.TierBasic)
	d := offboarding(onb)
	q, url := h.busEvents(t, tenantOffboardingFailed, d.TenantID)
	cat := h.deps().Catalog
	if _, err := cat.Apply(h.ctx, d.TenantID, store.Change{From: []catalog.Status{catalog.StatusActive}, To: catalog.StatusOffboarding}, nil, nil); err != nil {
		t.Fatal(err)
	}
	deps := h.deps()
	deps.APIKeys = apikey.New(failingDelete{API: apigateway.NewFromConfig(h.e.Config)}, h.e.Settings.Stage, h.e.Settings.UsagePlanIDs)
	p := provision.New(deps)
	for attempt := 1; attempt <= provision.MaxAttempts; attempt++ {
		resp, err := p.Handle(h.ctx, events.SQSEvent{Records: []events.SQSMessage{sqsRecord(t, bus.TenantOffboardingRequested, d, attempt)}})
		if err != nil {
			t.Fatal(err)
		}
		st := h.record(t, d.TenantID).Status
		if attempt < provision.MaxAttempts && (len(resp.BatchItemFailures) != 1 || st != catalog.StatusOffboarding) {
			t.Fatalf("attempt %d: failures %v, status %s; want a retry", attempt, resp.BatchItemFailures, st)
		}
		if attempt == provision.MaxAttempts && len(resp.BatchItemFailures) != 0 {
			t.Fatalf("the last attempt still asks for a retry")
		}
	}
	got := h.record(t, d.TenantID)
	if got.Status != statusOffboardFailed {
		t.Fatalf("after the retry budget the tenant is %s (%q), want %s", got.Status, got.Reason, statusOffboardFailed)
	}
	if !strings.HasPrefix(got.Reason, "retries_exhausted: ") || !strings.Contains(got.Reason, "api gateway unavailable") {
		t.Fatalf("reason %q, want a stable code and the cause", got.Reason)
	}
	audit, err := cat.AuditTrail(h.ctx, d.TenantID)
	if err != nil || len(audit) == 0 || audit[len(audit)-1].Action != "offboarding-failed" || !strings.Contains(audit[len(audit)-1].Detail, "retries_exhausted") {
		t.Fatalf("audit = %+v, %v", audit, err)
	}
	// The event reached the bus.
	msg, err := q.ReceiveMessage(h.ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 5, MaxNumberOfMessages: 1})
	if err != nil || len(msg.Messages) != 1 {
		t.Fatalf("no %s event on the bus (%v)", tenantOffboardingFailed, err)
	}
	env, err := bus.Parse([]byte(aws.ToString(msg.Messages[0].Body)))
	if err != nil || env.DetailType != string(tenantOffboardingFailed) || env.Detail.Reason != got.Reason || env.Detail.CorrelationID != d.CorrelationID {
		t.Fatalf("event = %+v, %v", env, err)
	}
	// The operator asks again (what POST /v1/tenants/{id}/offboard does from
	// OFFBOARD_FAILED), and with API Gateway back the offboarding finishes.
	if _, err := cat.Apply(h.ctx, d.TenantID, store.Change{From: []catalog.Status{statusOffboardFailed}, To: catalog.StatusOffboarding}, nil, nil); err != nil {
		t.Fatal(err)
	}
	resp, err := provision.New(h.deps()).Handle(h.ctx, events.SQSEvent{Records: []events.SQSMessage{sqsRecord(t, bus.TenantOffboardingRequested, d, 1)}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry: %+v, %v", resp, err)
	}
	if st := h.record(t, d.TenantID).Status; st != catalog.StatusOffboarded {
		t.Fatalf("after the retry the tenant is %s", st)
	}
	// Its key retired last, as in any offboarding.
	desc, err := kms.NewFromConfig(h.e.Config).DescribeKey(h.ctx, &kms.DescribeKeyInput{KeyId: aws.String(rec.Placement.KeyARN)})
	if err != nil || desc.KeyMetadata.KeyState != kmstypes.KeyStatePendingDeletion {
		t.Fatalf("key state %v, %v; want PendingDeletion", desc.KeyMetadata.KeyState, err)
	}
}

// slowDelete reports the tenant's stack as DELETE_IN_PROGRESS for the first
// n looks after DeleteStack, as CloudFormation does in AWS (the emulator
// deletes at once).
type slowDelete struct {
	provision.CloudFormation
	deleting atomic.Bool
	looks    atomic.Int32
	n        int32
}

func (s *slowDelete) DeleteStack(ctx context.Context, in *cloudformation.DeleteStackInput, o ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error) {
	s.deleting.Store(true)
	return s.CloudFormation.DeleteStack(ctx, in, o...)
}

func (s *slowDelete) DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, o ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	if s.deleting.Load() && s.looks.Add(1) <= s.n {
		return &cloudformation.DescribeStacksOutput{Stacks: []cfntypes.Stack{{StackName: in.StackName, StackStatus: cfntypes.StackStatusDeleteInProgress}}}, nil
	}
	return s.CloudFormation.DescribeStacks(ctx, in, o...)
}

// TestOffboardingWaitsForAStackWithDelayedRechecks: a stack still being
// deleted is looked at again through a delayed message on the queue; the
// delivery is acknowledged, not left to come back after the visibility
// timeout.
func TestOffboardingWaitsForAStackWithDelayedRechecks(t *testing.T) {
	h := newHarness(t)
	onb, _, _ := h.onboarded(t, catalog.TierPremium)
	d := offboarding(onb)
	if _, err := h.deps().Catalog.Apply(h.ctx, d.TenantID, store.Change{From: []catalog.Status{catalog.StatusActive}, To: catalog.StatusOffboarding}, nil, nil); err != nil {
		t.Fatal(err)
	}
	deps := h.deps()
	q, url := h.testQueue(t)
	deps.QueueURL, deps.CheckDelay = url, 2*time.Second
	stacks := &slowDelete{CloudFormation: deps.Stacks, n: 3}
	deps.Stacks = stacks
	p := provision.New(deps)
	ev := events.SQSEvent{Records: []events.SQSMessage{sqsRecord(t, bus.TenantOffboardingRequested, d, 1)}}
	checks := 0
	for round := 0; round < 10; round++ {
		resp, err := p.Handle(h.ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.BatchItemFailures) != 0 {
			t.Fatalf("round %d: the delivery was failed back to the queue (it would return after the visibility timeout), want a delayed re-check", round)
		}
		if h.record(t, d.TenantID).Status == catalog.StatusOffboarded {
			break
		}
		if n := h.delayed(t, q, url); n != "1" {
			t.Fatalf("round %d: %s delayed messages, want 1 re-check", round, n)
		}
		msg, err := q.ReceiveMessage(h.ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 5, MaxNumberOfMessages: 1})
		if err != nil || len(msg.Messages) != 1 {
			t.Fatalf("round %d: no re-check arrived (%v)", round, err)
		}
		m := msg.Messages[0]
		env, err := bus.Parse([]byte(aws.ToString(m.Body)))
		if err != nil || env.DetailType != string(bus.TenantOffboardingRequested) || env.Detail.TenantID != d.TenantID || env.Detail.Attempt != checks+1 {
			t.Fatalf("round %d: re-check %+v, %v", round, env, err)
		}
		checks++
		_, _ = q.DeleteMessage(h.ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle})
		ev = events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body),
			Attributes: map[string]string{"ApproximateReceiveCount": "1"}}}}
	}
	if got := h.record(t, d.TenantID).Status; got != catalog.StatusOffboarded {
		t.Fatalf("tenant is %s after %d re-checks", got, checks)
	}
	if checks < 1 {
		t.Fatalf("%d re-checks, want at least one (the stack was deleting for %d looks)", checks, stacks.n)
	}
}

// TestQueueRedriveLeavesTheProvisionerItsBudget: the local queue sends a
// message to the DLQ only after one delivery more than the provisioner's
// retry budget, so a run that crashes on the last attempt still gets a
// delivery that records the failure (infra/ asserts the same number).
func TestQueueRedriveLeavesTheProvisionerItsBudget(t *testing.T) {
	if bootstrap.MaxReceiveCount != provision.MaxAttempts+1 {
		t.Fatalf("maxReceiveCount %d, want provision.MaxAttempts+1 = %d", bootstrap.MaxReceiveCount, provision.MaxAttempts+1)
	}
}
