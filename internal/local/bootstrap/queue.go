package bootstrap

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tessera-saas/tessera/internal/control/bus"
)

// Names of the provisioning path.
const (
	ProvisioningQueue = "tessera-provisioning"
	ProvisioningDLQ   = "tessera-provisioning-dlq"
	ProvisioningRule  = "tessera-provisioning"
	// MaxReceiveCount sends a message to the DLQ after the provisioner's own
	// retry budget (provision.MaxAttempts) is spent.
	MaxReceiveCount = 6
	// LocalVisibilityTimeout is short so that a failed step comes back
	// quickly on a laptop (in AWS the CDK sets minutes).
	LocalVisibilityTimeout = 3
)

// ProvisioningEvents are the detail types the provisioner consumes.
var ProvisioningEvents = []string{string(bus.TenantOnboardingRequested), string(bus.TenantTierChanged), string(bus.TenantOffboardingRequested)}

// ensureProvisioning creates the provisioning queue with its DLQ and the bus
// rule that delivers onboarding and offboarding events to it, and returns
// the queue URL.
func ensureProvisioning(ctx context.Context, q *sqs.Client, eb *eventbridge.Client, busName string) (string, error) {
	dlqURL, err := ensureQueue(ctx, q, ProvisioningDLQ, nil)
	if err != nil {
		return "", err
	}
	dlqARN, err := queueARN(ctx, q, dlqURL)
	if err != nil {
		return "", err
	}
	redrive, _ := json.Marshal(map[string]any{"deadLetterTargetArn": dlqARN, "maxReceiveCount": MaxReceiveCount})
	url, err := ensureQueue(ctx, q, ProvisioningQueue, map[string]string{
		string(sqstypes.QueueAttributeNameRedrivePolicy):     string(redrive),
		string(sqstypes.QueueAttributeNameVisibilityTimeout): fmt.Sprint(LocalVisibilityTimeout),
	})
	if err != nil {
		return "", err
	}
	arn, err := queueARN(ctx, q, url)
	if err != nil {
		return "", err
	}
	pattern, _ := json.Marshal(map[string]any{"source": []string{bus.Source}, "detail-type": ProvisioningEvents})
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(ProvisioningRule), EventBusName: aws.String(busName),
		EventPattern: aws.String(string(pattern)), State: ebtypes.RuleStateEnabled}); err != nil {
		return "", fmt.Errorf("put rule %s: %w", ProvisioningRule, err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(ProvisioningRule), EventBusName: aws.String(busName),
		Targets: []ebtypes.Target{{Id: aws.String("provisioning-queue"), Arn: aws.String(arn)}}}); err != nil {
		return "", fmt.Errorf("put target of %s: %w", ProvisioningRule, err)
	}
	return url, nil
}

func ensureQueue(ctx context.Context, q *sqs.Client, name string, attrs map[string]string) (string, error) {
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", fmt.Errorf("create queue %s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

func queueARN(ctx context.Context, q *sqs.Client, url string) (string, error) {
	out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", fmt.Errorf("queue arn of %s: %w", url, err)
	}
	return out.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], nil
}
