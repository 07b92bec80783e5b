package seed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/tessera-saas/tessera/internal/control/apikey"
	"github.com/tessera-saas/tessera/internal/control/tenantkey"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// Deps are the clients seeding uses.
type Deps struct {
	Catalog  *store.Catalog
	IDP      *cip.Client
	KMS      tenantkey.KMS
	Settings settings.Settings
	// Partition and Account name the key policy's principals.
	Partition, Account string
	// APIKeys, when set, gives the tenant its API key in its tier's usage
	// plan and records the key in the catalog, as the provisioner does: the
	// tenant authorizer refuses a tenant without one.
	APIKeys *apikey.Binder
}

// Spec describes a demo tenant.
type Spec struct {
	Name       string
	Tier       catalog.Tier
	AdminEmail string
	Password   string
}

// Ensure creates the tenant of spec unless its admin user exists already, and
// returns its catalog record.
func Ensure(ctx context.Context, d Deps, spec Spec) (catalog.Record, error) {
	id, err := existingTenant(ctx, d, spec.AdminEmail)
	if err != nil {
		return catalog.Record{}, err
	}
	if id == "" {
		id = tenant.NewID()
	}
	policy := access.TenantKeyPolicy(access.KeyPolicyParams{
		Stage: d.Settings.Stage, Partition: d.Partition, Account: d.Account, TenantID: id,
		DataAccessRoleARN: d.Settings.DataAccessRoleARN,
		AdminRoleARN:      "arn:" + d.Partition + ":iam::" + d.Account + ":root",
	}).JSON()
	keyARN, err := tenantkey.Ensure(ctx, d.KMS, d.Settings.Stage, id, policy)
	if err != nil {
		return catalog.Record{}, fmt.Errorf("seed %s: %w", spec.Name, err)
	}
	now := time.Now().UTC()
	rec := catalog.Record{TenantID: id, Name: spec.Name, Tier: spec.Tier, Status: catalog.StatusActive,
		Placement: catalog.Placement{Table: d.Settings.PooledTable, KeyARN: keyARN},
		CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := d.Catalog.CreateTenant(ctx, rec); err != nil {
		if !errors.Is(err, store.ErrExists) {
			return catalog.Record{}, fmt.Errorf("seed %s: %w", spec.Name, err)
		}
		if rec, err = d.Catalog.GetTenant(ctx, id); err != nil {
			return catalog.Record{}, fmt.Errorf("seed %s: %w", spec.Name, err)
		}
	}
	if d.APIKeys != nil {
		k, err := d.APIKeys.Bind(ctx, id, rec.Tier)
		if err != nil {
			return catalog.Record{}, fmt.Errorf("seed %s: %w", spec.Name, err)
		}
		if rec.UsageKey != k.Value {
			if rec, err = d.Catalog.Apply(ctx, id, store.Change{UsageKey: k.Value}, nil, nil); err != nil {
				return catalog.Record{}, fmt.Errorf("seed %s: %w", spec.Name, err)
			}
		}
	}
	if err := EnsureUser(ctx, d.IDP, d.Settings.UserPoolID, id, tenant.RoleAdmin, spec.AdminEmail, spec.Password); err != nil {
		return catalog.Record{}, fmt.Errorf("seed %s: %w", spec.Name, err)
	}
	return rec, nil
}

func existingTenant(ctx context.Context, d Deps, email string) (string, error) {
	out, err := d.IDP.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: &d.Settings.UserPoolID, Username: &email})
	var nf *ciptypes.UserNotFoundException
	if errors.As(err, &nf) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look up user: %w", err)
	}
	for _, a := range out.UserAttributes {
		if aws.ToString(a.Name) == tenant.ClaimTenantID {
			return aws.ToString(a.Value), nil
		}
	}
	return "", fmt.Errorf("user exists without %s", tenant.ClaimTenantID)
}

// EnsureUser creates a confirmed user of tenantID with a permanent password,
// unless it exists.
func EnsureUser(ctx context.Context, idp *cip.Client, poolID, tenantID string, role tenant.Role, email, password string) error {
	_, err := idp.AdminCreateUser(ctx, &cip.AdminCreateUserInput{
		UserPoolId: &poolID, Username: &email,
		MessageAction: ciptypes.MessageActionTypeSuppress,
		UserAttributes: []ciptypes.AttributeType{
			{Name: aws.String("email"), Value: &email},
			{Name: aws.String("email_verified"), Value: aws.String("true")},
			{Name: aws.String(tenant.ClaimTenantID), Value: &tenantID},
			{Name: aws.String(tenant.ClaimRole), Value: aws.String(string(role))},
		},
	})
	var exists *ciptypes.UsernameExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("create user: %w", err)
	}
	if _, err := idp.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{
		UserPoolId: &poolID, Username: &email, Password: &password, Permanent: true,
	}); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return nil
}

// EnsureOperator creates a confirmed operator (a user in the operators
// group, with no tenant) with a permanent password, unless it exists.
func EnsureOperator(ctx context.Context, idp *cip.Client, poolID, email, password string) error {
	_, err := idp.AdminCreateUser(ctx, &cip.AdminCreateUserInput{
		UserPoolId: &poolID, Username: &email,
		MessageAction: ciptypes.MessageActionTypeSuppress,
		UserAttributes: []ciptypes.AttributeType{
			{Name: aws.String("email"), Value: &email},
			{Name: aws.String("email_verified"), Value: aws.String("true")},
		},
	})
	var exists *ciptypes.UsernameExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("create operator: %w", err)
	}
	if _, err := idp.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: &poolID, Username: &email, GroupName: aws.String(tenant.OperatorsGroup)}); err != nil {
		return fmt.Errorf("add operator to group: %w", err)
	}
	if _, err := idp.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{
		UserPoolId: &poolID, Username: &email, Password: &password, Permanent: true,
	}); err != nil {
		return fmt.Errorf("set operator password: %w", err)
	}
	return nil
}
