package directory

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"

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

// Errors of the directory. Callers test them with errors.Is; the user
// pool's own error stays in the chain (for logs, never for clients).
var (
	// ErrOtherTenant: the email belongs to a user of another tenant (or to
	// an operator, who belongs to no tenant).
	ErrOtherTenant = errors.New("directory: user belongs to another tenant")
	// ErrUserExists: the user exists in this tenant already.
	ErrUserExists = errors.New("directory: user exists")
	// ErrNotFound: the pool has no such user.
	ErrNotFound = errors.New("directory: user not found")
	// ErrInvalidUser: the user pool refused the user's attributes (Cognito's
	// InvalidParameterException). No retry can fix it.
	ErrInvalidUser = errors.New("directory: the user pool refused the user")
	// ErrTryLater: the user pool is over one of its limits (Cognito's
	// LimitExceededException, such as the daily email quota, or
	// TooManyRequestsException). The same call can succeed later.
	ErrTryLater = errors.New("directory: the user pool is over a limit, try later")
)

// classify wraps a user pool error of operation op, marking the kinds that
// callers act on.
func classify(op string, err error) error {
	var (
		invalid *ciptypes.InvalidParameterException
		limit   *ciptypes.LimitExceededException
		tooMany *ciptypes.TooManyRequestsException
		nf      *ciptypes.UserNotFoundException
	)
	switch {
	case errors.As(err, &invalid):
		return fmt.Errorf("%s: %w: %w", op, ErrInvalidUser, err)
	case errors.As(err, &limit), errors.As(err, &tooMany):
		return fmt.Errorf("%s: %w: %w", op, ErrTryLater, err)
	case errors.As(err, &nf):
		return fmt.Errorf("%s: %w: %w", op, ErrNotFound, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Directory manages the users of one user pool.
type Directory struct {
	c      Cognito
	poolID string
	// Invite sends Cognito's invitation email with a temporary password
	// (AWS); when false, no message is sent (local stack).
	Invite bool
}

// The IAM actions of the directory's operations on the pool: InviterActions
// are those of Create (AdminCreateUser, and AdminGetUser when the user
// exists), ManagerActions add Delete's. The CDK app grants them per function
// (infra/functions.go), and a function that manages a pool in another
// account narrows its session of the shared role to them (wire).
var (
	InviterActions = []string{"cognito-idp:AdminCreateUser", "cognito-idp:AdminGetUser"}
	ManagerActions = []string{"cognito-idp:AdminCreateUser", "cognito-idp:AdminGetUser", "cognito-idp:AdminDeleteUser"}
)

// New returns the directory of pool poolID.
func New(c Cognito, poolID string) *Directory { return &Directory{c: c, poolID: poolID, Invite: true} }

// User is a tenant user. Sub is its stable identity: the email can change,
// the sub never does.
type User struct {
	Email    string
	Sub      string
	TenantID string
	Role     tenant.Role
}

// Create makes a user of tenantID with role. If the user exists in the same
// tenant it returns it with ErrUserExists (callers that retry treat that as
// done); in another tenant (or as an operator), ErrOtherTenant. A refused
// email is ErrInvalidUser, a pool over its limits ErrTryLater.
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
		return User{}, classify("create user", err)
	}
	return userOf(out.User.Attributes, email), nil
}

// Get reads a user by username: its email (the pool's username attribute)
// or its sub. A missing user is ErrNotFound.
func (d *Directory) Get(ctx context.Context, username string) (User, error) {
	out, err := d.c.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: &d.poolID, Username: &username})
	if err != nil {
		return User{}, classify("get user", err)
	}
	return userOf(out.UserAttributes, ""), nil
}

func userOf(attrs []ciptypes.AttributeType, email string) User {
	u := User{Email: email}
	for _, a := range attrs {
		switch aws.ToString(a.Name) {
		case "email":
			u.Email = aws.ToString(a.Value)
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

// Delete removes a user of tenantID by username: its sub (what offboarding
// uses, as users can change their email) or its email. A user that is gone
// already is fine; a user of another tenant is never deleted.
func (d *Directory) Delete(ctx context.Context, tenantID, username string) error {
	u, err := d.Get(ctx, username)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if u.TenantID != tenantID {
		return fmt.Errorf("delete user: %w", ErrOtherTenant)
	}
	// The sub just read: the very user whose tenant was checked, even if
	// its email changes meanwhile.
	name := u.Sub
	if name == "" {
		name = username
	}
	_, err = d.c.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: &d.poolID, Username: &name})
	if err != nil {
		if err = classify("delete user", err); errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	return nil
}

// SetPassword sets a permanent password (local development and operators).
func (d *Directory) SetPassword(ctx context.Context, email, password string) error {
	_, err := d.c.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{UserPoolId: &d.poolID, Username: &email, Password: &password, Permanent: true})
	if err != nil {
		return classify("set password", err)
	}
	return nil
}

// AddToGroup puts a user in a Cognito group (operators).
func (d *Directory) AddToGroup(ctx context.Context, email, group string) error {
	_, err := d.c.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: &d.poolID, Username: &email, GroupName: &group})
	if err != nil {
		return classify("add user to "+group, err)
	}
	return nil
}

// MaxEmailLength is the longest email the directory accepts: the user
// pool's username (the email, its username attribute) is at most 128
// characters.
const MaxEmailLength = 128

// emailShape is what the user pool accepts as an email username (moto's
// check, which is Cognito's as far as it was observed: a local part that
// starts with a letter, digit or underscore; a domain of dotted labels with
// a top-level label of two or more letters), made stricter where that costs
// no real address: domain labels neither start nor end with a hyphen.
var emailShape = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._%+-]*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}$`)

// ValidEmail reports whether s is an email the user pool accepts as a
// username: plain (no display name, no comments), ASCII, at most
// MaxEmailLength characters, a local part of at most 64 without empty dot
// segments, and the shape of emailShape. Both APIs that create users
// (POST /v1/users, and POST /v1/tenants for the first admin) check it, so
// the pool never refuses an email they accepted.
func ValidEmail(s string) bool {
	if len(s) > MaxEmailLength || !emailShape.MatchString(s) {
		return false
	}
	local, _, _ := strings.Cut(s, "@")
	if len(local) > 64 {
		return false
	}
	a, err := mail.ParseAddress(s) // rejects "a..b@", "a.@" and the like
	return err == nil && a.Address == s && a.Name == ""
}
