package directory_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestDeleteBySubSurvivesAnEmailChange: a user who changed their email is
// found and deleted by its sub, and only in its own tenant.
func TestDeleteBySubSurvivesAnEmailChange(t *testing.T) {
	e := testenv.Setup(t)
	ctx := context.Background()
	idp := cip.NewFromConfig(e.Config)
	dir := directory.New(idp, e.Settings.UserPoolID)
	dir.Invite = false
	tid := tenant.NewID()
	email := "changer-" + tid[2:12] + "@acme.test"
	u, err := dir.Create(ctx, tid, tenant.RoleMember, email)
	if err != nil || u.Sub == "" || u.Email != email {
		t.Fatalf("create = %+v, %v", u, err)
	}
	changed := "changed-" + tid[2:12] + "@acme.test"
	if _, err := idp.AdminUpdateUserAttributes(ctx, &cip.AdminUpdateUserAttributesInput{UserPoolId: &e.Settings.UserPoolID, Username: &email,
		UserAttributes: []ciptypes.AttributeType{{Name: aws.String("email"), Value: &changed}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.Get(ctx, email); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("get by the old email: %v, want ErrNotFound", err)
	}
	got, err := dir.Get(ctx, u.Sub)
	if err != nil || got.Email != changed || got.TenantID != tid {
		t.Fatalf("get by sub = %+v, %v", got, err)
	}
	if err := dir.Delete(ctx, tenant.NewID(), u.Sub); !errors.Is(err, directory.ErrOtherTenant) {
		t.Fatalf("delete as another tenant: %v, want ErrOtherTenant", err)
	}
	if err := dir.Delete(ctx, tid, u.Sub); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.Get(ctx, u.Sub); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("user survives delete: %v", err)
	}
	if err := dir.Delete(ctx, tid, u.Sub); err != nil {
		t.Fatalf("deleting a deleted user: %v", err)
	}
}

// limitedCognito answers AdminCreateUser with a pool limit. A stub: moto
// never reaches Cognito's limits.
type limitedCognito struct {
	directory.Cognito
	err error
}

func (c limitedCognito) AdminCreateUser(context.Context, *cip.AdminCreateUserInput, ...func(*cip.Options)) (*cip.AdminCreateUserOutput, error) {
	return nil, c.err
}

func TestPoolLimitsAreTryLaterAndParameterErrorsInvalid(t *testing.T) {
	cases := []struct {
		err  error
		want error
	}{
		{&ciptypes.LimitExceededException{Message: aws.String("Exceeded daily email limit for the operation or the account.")}, directory.ErrTryLater},
		{&ciptypes.TooManyRequestsException{Message: aws.String("Too many requests")}, directory.ErrTryLater},
		{&ciptypes.InvalidParameterException{Message: aws.String("Username should be either an email or a phone number.")}, directory.ErrInvalidUser},
	}
	for _, tc := range cases {
		_, err := directory.New(limitedCognito{err: tc.err}, "pool").Create(context.Background(), "t-x", tenant.RoleMember, "a@acme.test")
		if !errors.Is(err, tc.want) {
			t.Errorf("%T: %v, want %v", tc.err, err, tc.want)
		}
		for _, other := range []error{directory.ErrTryLater, directory.ErrInvalidUser} {
			if other != tc.want && errors.Is(err, other) {
				t.Errorf("%T is also %v", tc.err, other)
			}
		}
	}
}
