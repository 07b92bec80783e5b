package bus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/outbox"
	"github.com/tessera-saas/tessera/internal/local/bootstrap"
	"github.com/tessera-saas/tessera/internal/local/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// route creates a temporary queue and a rule on busName that sends every
// control-plane event to it, as a deployment's rules do (no InputPath, no
// InputTransformer: the target gets the whole event). It returns the queue
// URL; cleanup removes both.
func route(t *testing.T, eb *eventbridge.Client, q *sqs.Client, busName string) string {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("bus-it-%d", time.Now().UnixNano())
	qo, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	url := aws.ToString(qo.QueueUrl)
	t.Cleanup(func() { _, _ = q.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: &url}) })
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatalf("queue arn: %v", err)
	}
	pattern, _ := json.Marshal(map[string]any{"source": []string{bus.Source}})
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: &name, EventBusName: &busName,
		EventPattern: aws.String(string(pattern)), State: ebtypes.RuleStateEnabled}); err != nil {
		t.Fatalf("put rule: %v", err)
	}
	t.Cleanup(func() {
		_, _ = eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: &name, EventBusName: &busName, Ids: []string{"queue"}})
		_, _ = eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: &name, EventBusName: &busName})
	})
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: &name, EventBusName: &busName,
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}}}); err != nil {
		t.Fatalf("put targets: %v", err)
	}
	return url
}

// receiveAll reads n messages from the queue, deleting them.
func receiveAll(t *testing.T, q *sqs.Client, url string, n int) []string {
	t.Helper()
	ctx := context.Background()
	var bodies []string
	deadline := time.Now().Add(10 * time.Second)
	for len(bodies) < n && time.Now().Before(deadline) {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("delete: %v", err)
			}
		}
	}
	if len(bodies) != n {
		t.Fatalf("received %d messages, want %d", len(bodies), n)
	}
	return bodies
}

// TestPublishedEventsReachQueueAsSchemasSay publishes every detail type and
// checks what an SQS rule target really receives: Parse gives the detail
// back and the body matches the type's schema.
//
// Onboarding and offboarding requests go through a temporary bus: on the
// deployment's bus the provisioning rule would deliver them to the
// provisioner's queue too, which another test or a running pump may be
// reading.
func TestPublishedEventsReachQueueAsSchemasSay(t *testing.T) {
	e := testenv.Setup(t)
	ctx := context.Background()
	eb, q := eventbridge.NewFromConfig(e.Config), sqs.NewFromConfig(e.Config)

	tempBus := fmt.Sprintf("bus-it-%d", time.Now().UnixNano())
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: &tempBus}); err != nil {
		t.Fatalf("create bus: %v", err)
	}
	t.Cleanup(func() { _, _ = eb.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: &tempBus}) })
	consumed := map[bus.DetailType]bool{}
	for _, dt := range bootstrap.ProvisioningEvents {
		consumed[dt] = true
	}
	for _, busName := range []string{e.Settings.EventBus, tempBus} {
		t.Run(busName, func(t *testing.T) {
			url := route(t, eb, q, busName)
			sent := map[bus.DetailType]bus.Detail{}
			for _, dt := range allTypes {
				if consumed[dt] != (busName == tempBus) {
					continue
				}
				d := details[dt]
				d.CorrelationID = bus.NewCorrelationID()
				publish(t, eb, busName, dt, d)
				d.SchemaVersion = bus.SchemaVersion
				sent[dt] = d
			}
			for _, body := range receiveAll(t, q, url, len(sent)) {
				env, err := bus.Parse([]byte(body))
				if err != nil {
					t.Fatalf("Parse of delivered event: %v\n%s", err, body)
				}
				dt := bus.DetailType(env.DetailType)
				if env.Detail != sent[dt] {
					t.Errorf("%s: received %+v, sent %+v", dt, env.Detail, sent[dt])
				}
				if err := validateJSON(t, dt, withAccount(t, body, e.Settings.AccountID)); err != nil {
					t.Errorf("%s: delivered event does not match its schema: %v\n%s", dt, err, body)
				}
				if time.Since(env.Time) > time.Minute || env.ID == "" || env.Region == "" {
					t.Errorf("%s: envelope %+v", dt, env)
				}
				delete(sent, dt)
			}
			if len(sent) > 0 {
				t.Errorf("not received: %v", sent)
			}
		})
	}
}

// publish sends one event as producers do: rendered by outbox.Event, sent
// as the entry outbox.Publish sends (without the catalog bookkeeping).
func publish(t *testing.T, eb *eventbridge.Client, busName string, dt bus.DetailType, d bus.Detail) {
	t.Helper()
	ev, err := outbox.Event(dt, d)
	if err != nil {
		t.Fatalf("outbox.Event %s: %v", dt, err)
	}
	out, err := eb.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{outbox.Entry(busName, *ev)}})
	if err != nil {
		t.Fatalf("publish %s: %v", dt, err)
	}
	if out.FailedEntryCount > 0 {
		t.Fatalf("publish %s: entry rejected: %s: %s", dt, aws.ToString(out.Entries[0].ErrorCode), aws.ToString(out.Entries[0].ErrorMessage))
	}
}

// withAccount works around a gap of moto (5.2.1): the events it delivers to
// SQS targets lack "account", which EventBridge always sets and the schemas
// require. It adds the deployment's account when, and only when, it is
// missing, and logs that it did.
func withAccount(t *testing.T, body, account string) []byte {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatalf("delivered body is not JSON: %v", err)
	}
	if _, ok := env["account"]; ok {
		return []byte(body)
	}
	t.Logf("emulator gap: delivered event has no \"account\"; adding %s before schema validation", account)
	env["account"] = account
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
