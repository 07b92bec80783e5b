package idtoken_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/tessera-saas/tessera/internal/local/bootstrap"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/idtoken"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// testPassword meets the bootstrapped pool's policy and moto's defaults
// (moto requires a symbol unless RequireSymbols is sent, and the SDK does
// not send false).
const testPassword = "Tessera-Test-Passw0rd"

// motoEnv is the local stack, a Cognito client and a verifier of the
// bootstrapped pool and app client.
type motoEnv struct {
	*testenv.Env
	idp *cip.Client
	v   *idtoken.Verifier
}

func setupMoto(t *testing.T) motoEnv {
	t.Helper()
	e := testenv.Setup(t)
	return motoEnv{Env: e, idp: cip.NewFromConfig(e.Config), v: poolVerifier(t, e.Settings.UserPoolID, e.Settings.AppClientID)}
}

func poolVerifier(t *testing.T, poolID, clientID string) *idtoken.Verifier {
	t.Helper()
	v, err := idtoken.NewVerifier(idtoken.Config{
		UserPoolID: poolID,
		ClientID:   clientID,
		JWKSURL:    idtoken.JWKSURL(os.Getenv("AWS_ENDPOINT_URL"), poolID),
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// uniqueEmail keeps runs against a reused emulator apart.
func uniqueEmail(t *testing.T) string {
	return fmt.Sprintf("%s-%d@idtoken.test", strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), time.Now().UnixNano())
}

// createUser makes a confirmed user with a tenant and a role.
func createUser(t *testing.T, idp *cip.Client, poolID, email, tenantID, role string) {
	t.Helper()
	ctx := context.Background()
	_, err := idp.AdminCreateUser(ctx, &cip.AdminCreateUserInput{
		UserPoolId:    &poolID,
		Username:      &email,
		MessageAction: ciptypes.MessageActionTypeSuppress,
		UserAttributes: []ciptypes.AttributeType{
			{Name: aws.String("email"), Value: &email},
			{Name: aws.String("email_verified"), Value: aws.String("true")},
			{Name: aws.String("custom:tenantId"), Value: &tenantID},
			{Name: aws.String("custom:role"), Value: &role},
		},
	})
	if err != nil {
		t.Fatalf("AdminCreateUser: %v", err)
	}
	_, err = idp.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{
		UserPoolId: &poolID, Username: &email, Password: aws.String(testPassword), Permanent: true,
	})
	if err != nil {
		t.Fatalf("AdminSetUserPassword: %v", err)
	}
}

func TestMotoIDTokenVerifies(t *testing.T) {
	m := setupMoto(t)
	ctx := context.Background()
	pool, client := m.Settings.UserPoolID, m.Settings.AppClientID
	email := uniqueEmail(t)
	createUser(t, m.idp, pool, email, "t-moto", "admin")
	if _, err := m.idp.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{
		UserPoolId: &pool, Username: &email, GroupName: aws.String(bootstrap.OperatorsGroup),
	}); err != nil {
		t.Fatalf("AdminAddUserToGroup: %v", err)
	}

	tok, err := idtoken.Login(ctx, m.idp, client, email, testPassword)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	claims, err := m.v.Verify(ctx, tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for k, want := range map[string]string{
		"custom:tenantId": "t-moto",
		"custom:role":     "admin",
		"email":           email,
		"token_use":       "id",
		"aud":             client,
		"iss":             "https://cognito-idp.us-east-1.amazonaws.com/" + pool,
		"cognito:groups":  bootstrap.OperatorsGroup,
	} {
		if claims[k] != want {
			t.Errorf("claim %s = %q, want %q", k, claims[k], want)
		}
	}
	if claims["sub"] == "" {
		t.Error("no sub claim")
	}
	for _, k := range []string{"exp", "iat"} {
		if _, err := time.Parse("Mon Jan 02 15:04:05 UTC 2006", claims[k]); err != nil {
			t.Errorf("claim %s = %q is not in API Gateway's date form: %v", k, claims[k], err)
		}
	}
}

func TestMotoAccessTokenRejected(t *testing.T) {
	m := setupMoto(t)
	ctx := context.Background()
	email := uniqueEmail(t)
	createUser(t, m.idp, m.Settings.UserPoolID, email, "t-moto", "member")
	out, err := m.idp.InitiateAuth(ctx, &cip.InitiateAuthInput{
		AuthFlow:       ciptypes.AuthFlowTypeUserPasswordAuth,
		ClientId:       &m.Settings.AppClientID,
		AuthParameters: map[string]string{"USERNAME": email, "PASSWORD": testPassword},
	})
	if err != nil {
		t.Fatalf("InitiateAuth: %v", err)
	}
	if _, err := m.v.Verify(ctx, aws.ToString(out.AuthenticationResult.IdToken)); err != nil {
		t.Fatalf("the ID token of the same login: %v", err)
	}
	_, err = m.v.Verify(ctx, aws.ToString(out.AuthenticationResult.AccessToken))
	if !errors.Is(err, idtoken.ErrInvalidToken) || !strings.Contains(err.Error(), "token_use") {
		t.Fatalf("access token: err = %v, want ErrInvalidToken for token_use", err)
	}
}

// moto signs every pool's tokens with the same key, so only the issuer check
// keeps a token of another pool out.
func TestMotoTokenOfAnotherPoolRejected(t *testing.T) {
	m := setupMoto(t)
	ctx := context.Background()
	pool2, err := m.idp.CreateUserPool(ctx, &cip.CreateUserPoolInput{
		PoolName:           aws.String(fmt.Sprintf("idtoken-other-%d", time.Now().UnixNano())),
		UsernameAttributes: []ciptypes.UsernameAttributeType{ciptypes.UsernameAttributeTypeEmail},
	})
	if err != nil {
		t.Fatalf("CreateUserPool: %v", err)
	}
	pool2ID := aws.ToString(pool2.UserPool.Id)
	t.Cleanup(func() {
		m.idp.DeleteUserPool(context.Background(), &cip.DeleteUserPoolInput{UserPoolId: &pool2ID})
	})
	client2, err := m.idp.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{
		UserPoolId:        &pool2ID,
		ClientName:        aws.String("other"),
		ExplicitAuthFlows: []ciptypes.ExplicitAuthFlowsType{ciptypes.ExplicitAuthFlowsTypeAllowUserPasswordAuth},
	})
	if err != nil {
		t.Fatalf("CreateUserPoolClient: %v", err)
	}
	client2ID := aws.ToString(client2.UserPoolClient.ClientId)
	email := uniqueEmail(t)
	createUser(t, m.idp, pool2ID, email, "t-other", "admin")
	tok, err := idtoken.Login(ctx, m.idp, client2ID, email, testPassword)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}

	// The other pool's own verifier accepts it: the signature is fine.
	if _, err := poolVerifier(t, pool2ID, client2ID).Verify(ctx, tok); err != nil {
		t.Fatalf("verifier of the other pool: %v", err)
	}
	_, err = m.v.Verify(ctx, tok)
	if !errors.Is(err, idtoken.ErrInvalidToken) || !strings.Contains(err.Error(), "issuer") {
		t.Fatalf("err = %v, want ErrInvalidToken for the issuer", err)
	}
	// Even a verifier that expects the other pool's client id rejects it.
	_, err = poolVerifier(t, m.Settings.UserPoolID, client2ID).Verify(ctx, tok)
	if !errors.Is(err, idtoken.ErrInvalidToken) || !strings.Contains(err.Error(), "issuer") {
		t.Fatalf("with the other client id: err = %v, want ErrInvalidToken for the issuer", err)
	}
}

func TestMotoTokenOfAnotherAppClientRejected(t *testing.T) {
	m := setupMoto(t)
	ctx := context.Background()
	pool := m.Settings.UserPoolID
	client2, err := m.idp.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{
		UserPoolId:        &pool,
		ClientName:        aws.String(fmt.Sprintf("idtoken-other-%d", time.Now().UnixNano())),
		ExplicitAuthFlows: []ciptypes.ExplicitAuthFlowsType{ciptypes.ExplicitAuthFlowsTypeAllowUserPasswordAuth},
		ReadAttributes:    []string{"email", "custom:tenantId", "custom:role"},
	})
	if err != nil {
		t.Fatalf("CreateUserPoolClient: %v", err)
	}
	client2ID := aws.ToString(client2.UserPoolClient.ClientId)
	t.Cleanup(func() {
		m.idp.DeleteUserPoolClient(context.Background(), &cip.DeleteUserPoolClientInput{UserPoolId: &pool, ClientId: &client2ID})
	})
	email := uniqueEmail(t)
	createUser(t, m.idp, pool, email, "t-moto", "admin")
	tok, err := idtoken.Login(ctx, m.idp, client2ID, email, testPassword)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	_, err = m.v.Verify(ctx, tok)
	if !errors.Is(err, idtoken.ErrInvalidToken) || !strings.Contains(err.Error(), "audience") {
		t.Fatalf("err = %v, want ErrInvalidToken for the audience", err)
	}
}

func TestMotoLoginFailures(t *testing.T) {
	m := setupMoto(t)
	ctx := context.Background()
	pool, client := m.Settings.UserPoolID, m.Settings.AppClientID

	// A user with only a temporary password must choose one first.
	fresh := uniqueEmail(t)
	if _, err := m.idp.AdminCreateUser(ctx, &cip.AdminCreateUserInput{
		UserPoolId:        &pool,
		Username:          &fresh,
		MessageAction:     ciptypes.MessageActionTypeSuppress,
		TemporaryPassword: aws.String(testPassword),
		UserAttributes:    []ciptypes.AttributeType{{Name: aws.String("email"), Value: &fresh}},
	}); err != nil {
		t.Fatalf("AdminCreateUser: %v", err)
	}
	confirmed := uniqueEmail(t) + "x"
	createUser(t, m.idp, pool, confirmed, "t-moto", "member")

	tests := []struct {
		name, email, password, want string
	}{
		{"temporary password", fresh, testPassword, "NEW_PASSWORD_REQUIRED"},
		{"wrong password", confirmed, testPassword + "x", "NotAuthorized"},
		{"unknown user", "nobody-" + confirmed, testPassword, "login nobody-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := idtoken.Login(ctx, m.idp, client, tc.email, tc.password)
			if err == nil || tok != "" {
				t.Fatalf("Login = %d-byte token, %v; want an error", len(tok), err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %q, want it to mention %q", err, tc.want)
			}
		})
	}
}
