package wire

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/directory"
)

// The session of the shared users role is narrowed to the function's own
// directory actions.
func TestSessionPolicyAllowsOnlyTheFunctionsActions(t *testing.T) {
	for _, actions := range [][]string{directory.InviterActions, directory.ManagerActions} {
		var doc struct {
			Version   string
			Statement []struct {
				Effect   string
				Action   []string
				Resource string
			}
		}
		if err := json.Unmarshal([]byte(sessionPolicy(actions)), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Version != "2012-10-17" || len(doc.Statement) != 1 || doc.Statement[0].Effect != "Allow" ||
			!slices.Equal(doc.Statement[0].Action, actions) || doc.Statement[0].Resource != "*" {
			t.Errorf("session policy for %v = %+v", actions, doc)
		}
	}
	if slices.Contains(directory.InviterActions, "cognito-idp:AdminDeleteUser") {
		t.Error("the api function's session may delete users")
	}
}

// With TESSERA_USER_POOL_ROLE_ARN the client reaches the pool through an
// AssumeRole session (with its session policy) on the emulator's STS.
func TestUserPoolClientThroughTheUsersRole(t *testing.T) {
	e := testenv.Setup(t)
	s := e.Settings
	s.UserPoolRoleARN = "arn:aws:iam::123456789012:role/tessera-local-c1-users"
	c := userPoolClient(e.Config, s, directory.InviterActions)
	out, err := c.DescribeUserPool(context.Background(), &cip.DescribeUserPoolInput{UserPoolId: &s.UserPoolID})
	if err != nil {
		t.Fatalf("describe the pool through the role: %v", err)
	}
	if out.UserPool == nil || *out.UserPool.Id != s.UserPoolID {
		t.Fatalf("pool = %+v", out.UserPool)
	}
	creds, err := c.Options().Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	base, err := e.Config.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID == base.AccessKeyID || creds.SessionToken == "" {
		t.Errorf("the client used the function's own credentials, not a session of the users role")
	}
}
