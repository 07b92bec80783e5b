package emulator_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestMotoQueriesAnswerFromThePartition and its LocalStack twin: with
// Query reading only the partition it names (partition_queries in
// tools/moto/tessera_moto_isolation.py), a Query still answers exactly that
// partition's items, in sort key order both ways, page by page, and a
// missing partition answers nothing.
func TestMotoQueriesAnswerFromThePartition(t *testing.T) {
	queriesAnswerFromThePartition(t, startMoto(t))
}

func TestLocalStackQueriesAnswerFromThePartition(t *testing.T) {
	_, cfg := startLocalStack(t)
	queriesAnswerFromThePartition(t, cfg)
}

func queriesAnswerFromThePartition(t *testing.T, cfg aws.Config) {
	ctx := context.Background()
	ddb := dynamodb.NewFromConfig(cfg)
	s := func(v string) *ddbtypes.AttributeValueMemberS { return &ddbtypes.AttributeValueMemberS{Value: v} }
	table := "partitions"
	createKeyTable(t, ddb, table, nil)
	for _, pk := range []string{"t-a#PRODUCT", "t-b#PRODUCT", "t-a#ORDER"} {
		for i := 9; i >= 0; i-- {
			if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table),
				Item: map[string]ddbtypes.AttributeValue{"pk": s(pk), "sk": s(fmt.Sprintf("%02d", i))}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	query := func(pk string, forward bool) []string {
		t.Helper()
		var got []string
		p := dynamodb.NewQueryPaginator(ddb, &dynamodb.QueryInput{TableName: aws.String(table), KeyConditionExpression: aws.String("pk = :pk"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": s(pk)}, Limit: aws.Int32(3), ScanIndexForward: aws.Bool(forward)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Items {
				got = append(got, it["pk"].(*ddbtypes.AttributeValueMemberS).Value+"/"+it["sk"].(*ddbtypes.AttributeValueMemberS).Value)
			}
		}
		return got
	}
	got := query("t-a#PRODUCT", true)
	if len(got) != 10 || got[0] != "t-a#PRODUCT/00" || got[9] != "t-a#PRODUCT/09" {
		t.Fatalf("forward: %v", got)
	}
	for _, g := range got {
		if g[:len("t-a#PRODUCT/")] != "t-a#PRODUCT/" {
			t.Fatalf("another partition's item: %s", g)
		}
	}
	if back := query("t-a#PRODUCT", false); len(back) != 10 || back[0] != "t-a#PRODUCT/09" {
		t.Fatalf("backward: %v", back)
	}
	if none := query("t-c#PRODUCT", true); len(none) != 0 {
		t.Fatalf("missing partition: %v", none)
	}
}
