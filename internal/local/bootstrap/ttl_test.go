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

// TestTablesHaveTTL: the local catalog and pooled tables have their TTL on
// the attributes the store writes on idempotency keys and invitation
// counters, as the CDK's tables do.
func TestTablesHaveTTL(t *testing.T) {
	e := testenv.Setup(t)
	ddb := dynamodb.NewFromConfig(e.Config)
	for _, c := range []struct{ table, attr string }{
		{e.Settings.CatalogTable, store.CatalogTTLAttribute},
		{e.Settings.PooledTable, store.InviteExpiryAttribute},
	} {
		out, err := ddb.DescribeTimeToLive(context.Background(), &dynamodb.DescribeTimeToLiveInput{TableName: &c.table})
		if err != nil {
			t.Fatal(err)
		}
		d := out.TimeToLiveDescription
		if d == nil || aws.ToString(d.AttributeName) != c.attr || d.TimeToLiveStatus != ddbtypes.TimeToLiveStatusEnabled {
			t.Errorf("%s TTL = %+v, want %s ENABLED", c.table, d, c.attr)
		}
	}
}
