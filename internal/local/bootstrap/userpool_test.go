package bootstrap_test

import (
	"context"
	"slices"
	"testing"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/tessera-saas/tessera/internal/local/testenv"
)

// TestAppClientCannotWriteTheEmail: as in the CDK app, the local app
// client's write attributes are a non-empty list without the email (moto
// does not enforce them; this keeps the local pool's definition honest).
func TestAppClientCannotWriteTheEmail(t *testing.T) {
	e := testenv.Setup(t)
	client, err := cip.NewFromConfig(e.Config).DescribeUserPoolClient(context.Background(),
		&cip.DescribeUserPoolClientInput{UserPoolId: &e.Settings.UserPoolID, ClientId: &e.Settings.AppClientID})
	if err != nil {
		t.Fatal(err)
	}
	if w := client.UserPoolClient.WriteAttributes; len(w) == 0 || slices.Contains(w, "email") {
		t.Fatalf("app client WriteAttributes = %v, want a non-empty list without email", w)
	}
}
