package idtoken

import (
	"context"
	"fmt"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
)

// Login signs a user in with USER_PASSWORD_AUTH through the app client and
// returns the ID token. The app client must allow that flow and have no
// secret. A challenge (NEW_PASSWORD_REQUIRED for a user with a temporary
// password, MFA, ...) is an error naming it: Login answers none.
func Login(ctx context.Context, c *cip.Client, clientID, email, password string) (idToken string, err error) {
	out, err := c.InitiateAuth(ctx, &cip.InitiateAuthInput{
		AuthFlow:       ciptypes.AuthFlowTypeUserPasswordAuth,
		ClientId:       &clientID,
		AuthParameters: map[string]string{"USERNAME": email, "PASSWORD": password},
	})
	if err != nil {
		return "", fmt.Errorf("login %s: %w", email, err)
	}
	if out.ChallengeName != "" {
		return "", fmt.Errorf("login %s: Cognito asks for the %s challenge, which login does not answer", email, out.ChallengeName)
	}
	if out.AuthenticationResult == nil || out.AuthenticationResult.IdToken == nil || *out.AuthenticationResult.IdToken == "" {
		return "", fmt.Errorf("login %s: no ID token in the response", email)
	}
	return *out.AuthenticationResult.IdToken, nil
}
