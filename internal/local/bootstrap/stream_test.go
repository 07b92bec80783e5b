package bootstrap_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/local/bootstrap"
	"github.com/tessera-saas/tessera/internal/local/testenv"
)

// TestPooledTableHasStream: the pooled table the bootstrap makes has a
// NEW_AND_OLD_IMAGES stream (the tenant change feed reads it); a pooled
// table made before without a stream gets one, and running again leaves
// that stream as it is; a stream of another view type is refused, not
// replaced.
func TestPooledTableHasStream(t *testing.T) {
	e := testenv.Setup(t)
	ctx := context.Background()
	ddb := dynamodb.NewFromConfig(e.Config)
	stream := func(table string) (*ddbtypes.StreamSpecification, string) {
		t.Helper()
		out, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
		if err != nil {
			t.Fatal(err)
		}
		return out.Table.StreamSpecification, aws.ToString(out.Table.LatestStreamArn)
	}
	hasImages := func(table string) string {
		t.Helper()
		spec, arn := stream(table)
		if spec == nil || !aws.ToBool(spec.StreamEnabled) || spec.StreamViewType != ddbtypes.StreamViewTypeNewAndOldImages || arn == "" {
			t.Fatalf("%s: stream %+v, arn %q; want an enabled NEW_AND_OLD_IMAGES stream", table, spec, arn)
		}
		return arn
	}
	hasImages(e.Settings.PooledTable)

	create := func(table string, spec *ddbtypes.StreamSpecification) {
		t.Helper()
		if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: ddbtypes.BillingModePayPerRequest,
			AttributeDefinitions: []ddbtypes.AttributeDefinition{
				{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
				{AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
			KeySchema: []ddbtypes.KeySchemaElement{
				{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash},
				{AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange}},
			StreamSpecification: spec}); err != nil {
			t.Fatal(err)
		}
	}
	s := e.Settings
	s.PooledTable = "tessera-pooled-before-streams"
	create(s.PooledTable, nil)
	if spec, _ := stream(s.PooledTable); spec != nil && aws.ToBool(spec.StreamEnabled) {
		t.Fatalf("a table created without a stream has one: %+v", spec)
	}
	if _, err := bootstrap.Run(ctx, e.Config, s); err != nil {
		t.Fatalf("bootstrap over a pooled table without a stream: %v", err)
	}
	arn := hasImages(s.PooledTable)
	if _, err := bootstrap.Run(ctx, e.Config, s); err != nil {
		t.Fatalf("bootstrap again: %v", err)
	}
	if again := hasImages(s.PooledTable); again != arn {
		t.Fatalf("bootstrap again replaced the stream: %s, was %s", again, arn)
	}

	s.PooledTable = "tessera-pooled-keys-only"
	create(s.PooledTable, &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeKeysOnly})
	if _, err := bootstrap.Run(ctx, e.Config, s); err == nil || !strings.Contains(err.Error(), string(ddbtypes.StreamViewTypeKeysOnly)) {
		t.Fatalf("bootstrap over a pooled table with a KEYS_ONLY stream: %v, want an error naming it", err)
	}
	if spec, _ := stream(s.PooledTable); spec == nil || spec.StreamViewType != ddbtypes.StreamViewTypeKeysOnly {
		t.Fatalf("the KEYS_ONLY stream changed: %+v", spec)
	}
}
