package provision_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/provision"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
)

// rolledBack reports every stack as ROLLBACK_COMPLETE, as CloudFormation
// does when a resource fails to create (the emulator's stacks always
// complete).
type rolledBack struct{ provision.CloudFormation }

func (s rolledBack) DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, o ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	out, err := s.CloudFormation.DescribeStacks(ctx, in, o...)
	if err != nil {
		return out, err
	}
	for i := range out.Stacks {
		out.Stacks[i].StackStatus = cfntypes.StackStatusRollbackComplete
		out.Stacks[i].StackStatusReason = aws.String("The following resource(s) failed to create: [Table].")
	}
	return out, nil
}

// TestPermanentFailureFailsAtOnceWithAStableReason: a failure no retry
// fixes ends the onboarding on its first delivery, and the tenant's reason
// (and the TenantProvisioningFailed event) is a stable code and a readable
// message, the same on every run.
func TestPermanentFailureFailsAtOnceWithAStableReason(t *testing.T) {
	h := newHarness(t)
	deps := h.deps()
	deps.Stacks = rolledBack{CloudFormation: deps.Stacks}
	d := h.requested(t, catalog.TierPremium)
	q, url := h.busEvents(t, bus.TenantProvisioningFailed, d.TenantID)
	resp, err := provision.New(deps).Handle(h.ctx, events.SQSEvent{Records: []events.SQSMessage{sqsRecord(t, bus.TenantOnboardingRequested, d, 1)}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v; want the message consumed at once", resp, err)
	}
	rec := h.record(t, d.TenantID)
	if rec.Status != catalog.StatusFailed {
		t.Fatalf("tenant is %s (%q), want FAILED", rec.Status, rec.Reason)
	}
	if !strings.HasPrefix(rec.Reason, "stack_failed: ") || !strings.Contains(rec.Reason, "ROLLBACK_COMPLETE: The following resource(s) failed to create: [Table].") {
		t.Fatalf("reason %q, want stack_failed: and the stack's status reason", rec.Reason)
	}
	msg, err := q.ReceiveMessage(h.ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 5, MaxNumberOfMessages: 1})
	if err != nil || len(msg.Messages) != 1 {
		t.Fatalf("no TenantProvisioningFailed on the bus (%v)", err)
	}
	env, err := bus.Parse([]byte(aws.ToString(msg.Messages[0].Body)))
	if err != nil || env.Detail.Reason != rec.Reason {
		t.Fatalf("event %+v, %v; want the tenant's reason", env, err)
	}
}
