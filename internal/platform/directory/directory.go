package directory

import (
	"context"
	"errors"
	"fmt"
	"net/mail"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// Cognito is the part of the user pool API the directory uses.
type Cognito interface {
	AdminCreateUser(context.Context, *cip.AdminCreateUserInput, ...func(*cip.Options)) (*cip.AdminCreateUserOutput, error)
	AdminGetUser(context.Context, *cip.AdminGetUserInput, ...func(*cip.Options)) (*cip.AdminGetUserOutput, error)
	AdminDeleteUser(context.Context, *cip.AdminDeleteUserInput, ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error)
	AdminSetUserPassword(context.Context, *cip.AdminSetUserPasswordInput, ...func(*cip.Options)) (*cip.AdminSetUserPasswordOutput, error)
	AdminAddUserToGroup(context.Context, *cip.AdminAddUserToGroupInput, ...func(*cip.Options)) (*cip.AdminAddUserToGroupOutput, error)
}

// Errors of the directory.
var (
	// ErrOtherTenant: the email belongs to a user of another tenant.
	ErrOtherTenant = errors.New("directory: user belongs to another tenant")
	// ErrUserExists: the user exists in this tenant already.
	ErrUserExists = errors.New("directory: user exists")
)

// Directory manages the users of one user pool.
type Directory struct {
	c      Cognito
	poolID string
	// Invite sends Cognito's invitation email with a temporary password
	// (AWS); when false, no message is sent (local stack).
	Invite bool
}

// New returns the directory of pool poolID.
func New(c Cognito, poolID string) *Directory { return &Directory{c: c, poolID: poolID, Invite: true} }

// User is a tenant user.
type User struct {
	Email    string
	Sub      string
	TenantID string
	Role     tenant.Role
}

// Create makes a user of tenantID with role. If the user exists in the same
// tenant it returns it with ErrUserExists (callers that retry treat that as
// done); in another tenant, ErrOtherTenant.
func (d *Directory) Create(ctx context.Context, tenantID string, role tenant.Role, email string) (User, error) {
	in := &cip.AdminCreateUserInput{
		UserPoolId: &d.poolID, Username: &email,
		UserAttributes: []ciptypes.AttributeType{
			{Name: aws.String("email"), Value: &email},
			{Name: aws.String("email_verified"), Value: aws.String("true")},
			{Name: aws.String(tenant.ClaimTenantID), Value: &tenantID},
			{Name: aws.String(tenant.ClaimRole), Value: aws.String(string(role))},
		},
		DesiredDeliveryMediums: []ciptypes.DeliveryMediumType{ciptypes.DeliveryMediumTypeEmail},
	}
	if !d.Invite {
		in.MessageAction = ciptypes.MessageActionTypeSuppress
	}
	out, err := d.c.AdminCreateUser(ctx, in)
	var exists *ciptypes.UsernameExistsException
	if errors.As(err, &exists) {
		u, gerr := d.Get(ctx, email)
		if gerr != nil {
			return User{}, gerr
		}
		if u.TenantID != tenantID {
			return User{}, fmt.Errorf("create user: %w", ErrOtherTenant)
		}
		return u, ErrUserExists
	}
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	return userOf(out.User.Attributes, email), nil
}

// Get reads a user.
func (d *Directory) Get(ctx context.Context, email string) (User, error) {
	out, err := d.c.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: &d.poolID, Username: &email})
	if err != nil {
		return User{}, fmt.Errorf("get user: %w", err)
	}
	return userOf(out.UserAttributes, email), nil
}

func userOf(attrs []ciptypes.AttributeType, email string) User {
	u := User{Email: email}
	for _, a := range attrs {
		switch aws.ToString(a.Name) {
		case "sub":
			u.Sub = aws.ToString(a.Value)
		case tenant.ClaimTenantID:
			u.TenantID = aws.ToString(a.Value)
		case tenant.ClaimRole:
			u.Role = tenant.Role(aws.ToString(a.Value))
		}
	}
	return u
}

// Delete removes a user of tenantID; a user that is gone already is fine,
// a user of another tenant is never deleted.
func (d *Directory) Delete(ctx context.Context, tenantID, email string) error {
	u, err := d.Get(ctx, email)
	var nf *ciptypes.UserNotFoundException
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return err
	}
	if u.TenantID != tenantID {
		return fmt.Errorf("delete user: %w", ErrOtherTenant)
	}
	_, err = d.c.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: &d.poolID, Username: &email})
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("delete user: %w", err)
	}
	return nil
}

// SetPassword sets a permanent password (local development and operators).
func (d *Directory) SetPassword(ctx context.Context, email, password string) error {
	_, err := d.c.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{UserPoolId: &d.poolID, Username: &email, Password: &password, Permanent: true})
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return nil
}

// AddToGroup puts a user in a Cognito group (operators).
func (d *Directory) AddToGroup(ctx context.Context, email, group string) error {
	_, err := d.c.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: &d.poolID, Username: &email, GroupName: &group})
	if err != nil {
		return fmt.Errorf("add user to %s: %w", group, err)
	}
	return nil
}

// ValidEmail reports whether s is a plain email address (no display name),
// as the directory accepts it for a user.
func ValidEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == "" && len(s) <= 254
}
