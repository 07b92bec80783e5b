package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/outbox"
	"github.com/tessera-saas/tessera/internal/local/emulator"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestEmittedEventsMatchTheirSchemas records each lifecycle event the way
// the code does (with the state change, in the outbox), publishes it through
// EventBridge to a queue, and validates what arrives against
// events/schemas. A second event left unpublished (a crash after the
// transaction) is delivered by the sweep.
func TestEmittedEventsMatchTheirSchemas(t *testing.T) {
	e := testenv.Setup(t)
	ctx := context.Background()
	cat := store.NewCatalog(store.NewClient(e.Config), e.Settings.CatalogTable)
	eb := eventbridge.NewFromConfig(e.Config)
	busName := "outbox-test-" + tenant.NewID()[2:12]
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: &busName}); err != nil {
		t.Fatal(err)
	}
	q := sqs.NewFromConfig(e.Config)
	qo, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(busName)})
	if err != nil {
		t.Fatal(err)
	}
	attrs, _ := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: qo.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("all"), EventBusName: &busName, EventPattern: aws.String(`{"source":["` + bus.Source + `"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("all"), EventBusName: &busName,
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
		t.Fatal(err)
	}
	ob := outbox.New(cat, eb, busName, slog.New(slog.NewJSONHandler(io.Discard, nil)))

	id := tenant.NewID()
	now := time.Now().UTC()
	onboard, err := outbox.Event(bus.TenantOnboardingRequested, bus.Detail{TenantID: id, Tier: "basic", CorrelationID: "c-1", TenantName: "Acme", AdminEmail: "a@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cat.Create(ctx, catalog.Record{TenantID: id, Name: "Acme", Tier: catalog.TierBasic, Status: catalog.StatusProvisioning, CreatedAt: now, UpdatedAt: now, Version: 1},
		store.Idempotency{}, onboard, nil); err != nil {
		t.Fatal(err)
	}
	if err := ob.Publish(ctx, *onboard); err != nil {
		t.Fatal(err)
	}
	// A suspension whose publish "crashed": only the sweep announces it.
	if _, err := cat.Apply(ctx, id, store.Change{To: catalog.StatusSuspended, Reason: "unpaid"}, mustEvent(t, bus.TenantSuspended, bus.Detail{TenantID: id, Tier: "basic", CorrelationID: "c-2", Reason: "unpaid"}), nil); err != nil {
		t.Fatal(err)
	}
	if n, err := ob.Sweep(ctx, -time.Minute, 100); err != nil || n != 1 {
		t.Fatalf("sweep published %d, %v; want 1", n, err)
	}
	if n, _ := ob.Sweep(ctx, -time.Minute, 100); n != 0 {
		t.Fatalf("second sweep published %d again", n)
	}

	got := map[string]bool{}
	for tries := 0; tries < 5 && len(got) < 2; tries++ {
		msgs, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: qo.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs.Messages {
			body := []byte(aws.ToString(m.Body))
			env, err := bus.Parse(body)
			if err != nil {
				t.Fatalf("emitted event does not parse: %v\n%s", err, body)
			}
			var doc map[string]any
			_ = json.Unmarshal(body, &doc)
			if _, ok := doc["account"]; !ok {
				doc["account"] = "123456789012" // moto omits it; EventBridge always sets it
			}
			if err := schemaOf(t, env.DetailType).Validate(doc); err != nil {
				t.Fatalf("emitted %s violates its schema: %v\n%s", env.DetailType, err, body)
			}
			if env.Detail.TenantID != id || env.Detail.SchemaVersion != bus.SchemaVersion {
				t.Fatalf("detail = %+v", env.Detail)
			}
			got[env.DetailType] = true
		}
	}
	if !got[string(bus.TenantOnboardingRequested)] || !got[string(bus.TenantSuspended)] {
		t.Fatalf("received %v", got)
	}
}

// TestPublishToMissingBusFails: on moto a bus that does not exist is an
// error from PutEvents (not a contract error), and the event stays in the
// outbox. EventBridge itself accepts events for a missing bus and drops them
// (FailedEntryCount 0), and LocalStack does as AWS: there Publish succeeds,
// which this test pins down (only the stack's configuration names the bus).
func TestPublishToMissingBusFails(t *testing.T) {
	e := testenv.Setup(t)
	cat := store.NewCatalog(store.NewClient(e.Config), e.Settings.CatalogTable)
	ob := outbox.New(cat, eventbridge.NewFromConfig(e.Config), "no-such-bus", slog.New(slog.NewJSONHandler(io.Discard, nil)))
	ev := mustEvent(t, bus.TenantResumed, bus.Detail{TenantID: "acme", Tier: "standard", CorrelationID: "c-3"})
	err := ob.Publish(context.Background(), *ev)
	t.Logf("%s: %v", testenv.Engine(t), err)
	if testenv.Engine(t) == emulator.LocalStack {
		if err != nil {
			t.Fatalf("Publish to a missing bus on LocalStack: %v, want nil as from EventBridge", err)
		}
		return
	}
	if err == nil || errors.Is(err, bus.ErrInvalidEvent) {
		t.Fatalf("Publish to a missing bus: %v, want an error from EventBridge", err)
	}
}

func mustEvent(t *testing.T, dt bus.DetailType, d bus.Detail) *store.OutboxEvent {
	ev, err := outbox.Event(dt, d)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func schemaOf(t *testing.T, dt string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	path, err := filepath.Abs(filepath.Join("..", "..", "..", "events", "schemas", dt+".schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(path)
	if err != nil {
		t.Fatalf("compile %s: %v", path, err)
	}
	return s
}
