package bootstrap

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/platform/cell"
	"github.com/tessera-saas/tessera/internal/platform/settings"
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

// ProvisioningEvents are the detail types the provisioner consumes, which
// the local rule delivers to its queue (bus.ProvisioningEvents, as in infra).
var ProvisioningEvents = bus.ProvisioningEvents

// ensureProvisioning creates the provisioning queue with its DLQ and the bus
// rule that delivers onboarding and offboarding events to it, and returns
// the queue URL.
func ensureProvisioning(ctx context.Context, q *sqs.Client, eb *eventbridge.Client, busName string, c cell.ID) (string, error) {
	dlqURL, err := ensureQueue(ctx, q, CellName(c, ProvisioningDLQ), nil)
	if err != nil {
		return "", err
	}
	dlqARN, err := queueARN(ctx, q, dlqURL)
	if err != nil {
		return "", err
	}
	redrive, _ := json.Marshal(map[string]any{"deadLetterTargetArn": dlqARN, "maxReceiveCount": MaxReceiveCount})
	url, err := ensureQueue(ctx, q, CellName(c, ProvisioningQueue), map[string]string{
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
	rule := CellName(c, ProvisioningRule)
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(rule), EventBusName: aws.String(busName),
		EventPattern: aws.String(string(pattern)), State: ebtypes.RuleStateEnabled}); err != nil {
		return "", fmt.Errorf("put rule %s: %w", rule, err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(rule), EventBusName: aws.String(busName),
		Targets: []ebtypes.Target{{Id: aws.String("provisioning-queue"), Arn: aws.String(arn)}}}); err != nil {
		return "", fmt.Errorf("put target of %s: %w", rule, err)
	}
	return url, nil
}

// CellName is the local name of resource name in cell c: name itself in
// cell.Default, else with the cell after the "tessera-" prefix
// ("tessera-c2-provisioning"). Locally every cell shares the emulator's one
// account, so a cell's resources differ by name; in AWS each cell has an
// account of its own and the names are the same in every cell.
func CellName(c cell.ID, name string) string {
	if c == "" || c == cell.Default {
		return name
	}
	return strings.Replace(name, "tessera-", "tessera-"+string(c)+"-", 1)
}

// ForCell returns the local settings of cell c, made from those of the
// default cell s: c's own tables, bus and export bucket (CellName). The
// user pool is the stage's one pool, shared by every cell.
func ForCell(s settings.Settings, c cell.ID) settings.Settings {
	s.Cell = c
	s.PooledTable = CellName(c, "tessera-pooled")
	s.CatalogTable = CellName(c, "tessera-catalog")
	if c != "" && c != cell.Default {
		s.EventBus = "tessera-" + string(c)
	}
	s.ExportBucket = CellName(c, "tessera-exports")
	s.BackupBucket = CellName(c, "tessera-backups")
	return s
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
