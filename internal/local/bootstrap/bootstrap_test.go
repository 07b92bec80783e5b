package bootstrap_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tessera-saas/tessera/internal/local/bootstrap"
	"github.com/tessera-saas/tessera/internal/local/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestRunIsIdempotent(t *testing.T) {
	e := testenv.Setup(t) // ran bootstrap once already
	again, err := bootstrap.Run(context.Background(), e.Config, e.Settings)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if again.UserPoolID != e.Settings.UserPoolID || again.AppClientID != e.Settings.AppClientID {
		t.Fatalf("second run made new pool/client: %+v vs %+v", again, e.Settings)
	}
	ddb := dynamodb.NewFromConfig(e.Config)
	for _, name := range []string{e.Settings.PooledTable, e.Settings.CatalogTable} {
		out, err := ddb.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: &name})
		if err != nil {
			t.Fatalf("describe %s: %v", name, err)
		}
		if got := len(out.Table.KeySchema); got != 2 {
			t.Errorf("%s key schema has %d elements, want pk+sk", name, got)
		}
	}
}

// TestTenantAttributesAreImmutableAndNotClientWritable checks the user pool
// the bootstrap made: custom:tenantId and custom:role cannot change after
// creation and the app client may not write them. (moto enforces neither;
// AWS does. infra/ asserts the same on the CDK pool.)
func TestTenantAttributesAreImmutableAndNotClientWritable(t *testing.T) {
	e := testenv.Setup(t)
	ctx := context.Background()
	idp := cip.NewFromConfig(e.Config)
	pool, err := idp.DescribeUserPool(ctx, &cip.DescribeUserPoolInput{UserPoolId: &e.Settings.UserPoolID})
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, a := range pool.UserPool.SchemaAttributes {
		switch aws.ToString(a.Name) {
		case "custom:tenantId", "custom:role":
			found++
			if aws.ToBool(a.Mutable) {
				t.Errorf("%s is mutable", aws.ToString(a.Name))
			}
		}
	}
	if found != 2 {
		t.Fatalf("found %d of the 2 custom attributes", found)
	}
	client, err := idp.DescribeUserPoolClient(ctx, &cip.DescribeUserPoolClientInput{UserPoolId: &e.Settings.UserPoolID, ClientId: &e.Settings.AppClientID})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range client.UserPoolClient.WriteAttributes {
		if strings.HasPrefix(w, "custom:") {
			t.Errorf("the app client may write %s", w)
		}
	}
}
