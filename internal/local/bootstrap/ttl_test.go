package bootstrap_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// TestCatalogHasTTL: the local catalog table has its TTL on the attribute
// the store writes on idempotency keys, as the CDK's table does.
func TestCatalogHasTTL(t *testing.T) {
	e := testenv.Setup(t)
	out, err := dynamodb.NewFromConfig(e.Config).DescribeTimeToLive(context.Background(), &dynamodb.DescribeTimeToLiveInput{TableName: &e.Settings.CatalogTable})
	if err != nil {
		t.Fatal(err)
	}
	d := out.TimeToLiveDescription
	if d == nil || aws.ToString(d.AttributeName) != store.CatalogTTLAttribute || d.TimeToLiveStatus != ddbtypes.TimeToLiveStatusEnabled {
		t.Fatalf("catalog TTL = %+v, want %s ENABLED", d, store.CatalogTTLAttribute)
	}
}
