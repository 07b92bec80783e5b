package streampump_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/tessera-saas/tessera/internal/local/streampump"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/entityid"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var bg = context.Background()

// streamTable creates a table of its own with a NEW_AND_OLD_IMAGES stream
// and puts items sk "1".."n" in it, in order.
func streamTable(t *testing.T, e *testenv.Env, n int) string {
	t.Helper()
	ddb := dynamodb.NewFromConfig(e.Config)
	name := "pump-" + strings.ToLower(entityid.New())
	if _, err := ddb.CreateTable(bg, &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange}},
		StreamSpecification: &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages},
	}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if _, err := ddb.PutItem(bg, &dynamodb.PutItemInput{TableName: aws.String(name), Item: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "t-ab#X"}, "sk": &ddbtypes.AttributeValueMemberS{Value: string(rune('0' + i))}}}); err != nil {
			t.Fatal(err)
		}
	}
	return name
}

func sks(ev events.DynamoDBEvent) string {
	var out []string
	for _, r := range ev.Records {
		out = append(out, r.Change.Keys["sk"].String())
	}
	return strings.Join(out, ",")
}

// TestFailedRecordIsRetriedFromItselfAndTheOnesBeforeStayCheckpointed: as
// Lambda does with ReportBatchItemFailures, the pump hands the batch again
// from the record the handler named, never the records before it.
func TestFailedRecordIsRetriedFromItselfAndTheOnesBeforeStayCheckpointed(t *testing.T) {
	e := testenv.Setup(t)
	table := streamTable(t, e, 4)
	var seen []string
	failed := false
	p := streampump.New(dynamodbstreams.NewFromConfig(e.Config), streampump.TableMatcher(table, ""), e.Config.Region,
		func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			seen = append(seen, sks(ev))
			if !failed && len(ev.Records) >= 3 {
				failed = true // the third record fails once
				return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{
					{ItemIdentifier: ev.Records[2].Change.SequenceNumber}}}, nil
			}
			return events.DynamoDBEventResponse{}, nil
		})
	n, err := p.Drain(bg, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(seen, " | "); got != "1,2,3,4 | 3,4" || n != 4 {
		t.Fatalf("batches %q, %d accepted; want %q, 4", got, n, "1,2,3,4 | 3,4")
	}
	if n, err := p.Drain(bg, 10); err != nil || n != 0 {
		t.Fatalf("a drained stream handed %d more records (%v)", n, err)
	}
}

// TestUnknownFailureIdentifierFailsTheWholeBatch: an identifier that is not
// in the batch is the handler's bug; Lambda then retries the whole batch,
// and so does the pump.
func TestUnknownFailureIdentifierFailsTheWholeBatch(t *testing.T) {
	e := testenv.Setup(t)
	table := streamTable(t, e, 2)
	calls := 0
	p := streampump.New(dynamodbstreams.NewFromConfig(e.Config), streampump.TableMatcher(table, ""), e.Config.Region,
		func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			calls++
			if calls == 1 {
				return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: "no-such-record"}}}, nil
			}
			if got := sks(ev); got != "1,2" {
				t.Errorf("retried batch %q, want the whole batch 1,2", got)
			}
			return events.DynamoDBEventResponse{}, nil
		})
	if _, err := p.Round(bg); err == nil || !strings.Contains(err.Error(), "not in the batch") {
		t.Fatalf("round with an unknown identifier: %v", err)
	}
	if n, err := p.Drain(bg, 10); err != nil || n != 2 {
		t.Fatalf("retry: %d accepted, %v; want 2", n, err)
	}
}
