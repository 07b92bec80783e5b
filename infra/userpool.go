package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Names of the Cognito pieces the code relies on. The ID token carries the
// custom attributes as "custom:tenantId" and "custom:role", and the groups
// as "cognito:groups".
const (
	attrTenantID   = "tenantId"
	attrRole       = "role"
	operatorsGroup = "operators"
)

// newUserPool defines the user pool of tenant users and operators, its app
// client and the operators group.
//
// The tenant id and role are custom attributes that are immutable (set once,
// by the provisioner, with AdminCreateUser) and absent from the app client's
// write attributes, so no user can move into another tenant or promote
// themselves. Sign-up is closed: tenant admins are created by the
// provisioner.
func newUserPool(scope constructs.Construct, cfg config) (awscognito.UserPool, awscognito.UserPoolClient) {
	removal := awscdk.RemovalPolicy_DESTROY
	if cfg.Prod() {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	pool := awscognito.NewUserPool(scope, jsii.String("UserPool"), &awscognito.UserPoolProps{
		UserPoolName:        jsii.String("tessera-" + cfg.Stage),
		SelfSignUpEnabled:   jsii.Bool(false),
		SignInAliases:       &awscognito.SignInAliases{Email: jsii.Bool(true)},
		SignInCaseSensitive: jsii.Bool(false),
		AutoVerify:          &awscognito.AutoVerifiedAttrs{Email: jsii.Bool(true)},
		StandardAttributes: &awscognito.StandardAttributes{
			Email: &awscognito.StandardAttribute{Required: jsii.Bool(true), Mutable: jsii.Bool(true)},
		},
		CustomAttributes: &map[string]awscognito.ICustomAttribute{
			attrTenantID: awscognito.NewStringAttribute(&awscognito.StringAttributeProps{
				MinLen: jsii.Number(2), MaxLen: jsii.Number(63), Mutable: jsii.Bool(false),
			}),
			attrRole: awscognito.NewStringAttribute(&awscognito.StringAttributeProps{
				MinLen: jsii.Number(1), MaxLen: jsii.Number(32), Mutable: jsii.Bool(false),
			}),
		},
		PasswordPolicy: &awscognito.PasswordPolicy{
			MinLength: jsii.Number(12), RequireLowercase: jsii.Bool(true), RequireUppercase: jsii.Bool(true),
			RequireDigits: jsii.Bool(true), RequireSymbols: jsii.Bool(false),
		},
		AccountRecovery:    awscognito.AccountRecovery_EMAIL_ONLY,
		DeletionProtection: jsii.Bool(cfg.Prod()),
		RemovalPolicy:      removal,
	})

	client := pool.AddClient(jsii.String("AppClient"), &awscognito.UserPoolClientOptions{
		UserPoolClientName:         jsii.String("tessera-" + cfg.Stage + "-app"),
		GenerateSecret:             jsii.Bool(false),
		AuthFlows:                  &awscognito.AuthFlow{UserPassword: jsii.Bool(true), UserSrp: jsii.Bool(true)},
		DisableOAuth:               jsii.Bool(true),
		PreventUserExistenceErrors: jsii.Bool(true),
		EnableTokenRevocation:      jsii.Bool(true),
		IdTokenValidity:            awscdk.Duration_Hours(jsii.Number(1)),
		AccessTokenValidity:        awscdk.Duration_Hours(jsii.Number(1)),
		RefreshTokenValidity:       awscdk.Duration_Days(jsii.Number(30)),
		// Users may read their tenant and role, and write only their email.
		ReadAttributes: awscognito.NewClientAttributes().
			WithStandardAttributes(&awscognito.StandardAttributesMask{Email: jsii.Bool(true), EmailVerified: jsii.Bool(true)}).
			WithCustomAttributes(jsii.String(attrTenantID), jsii.String(attrRole)),
		WriteAttributes: awscognito.NewClientAttributes().
			WithStandardAttributes(&awscognito.StandardAttributesMask{Email: jsii.Bool(true)}),
	})

	pool.AddGroup(jsii.String("Operators"), &awscognito.UserPoolGroupOptions{
		GroupName:   jsii.String(operatorsGroup),
		Description: jsii.String("Tessera operators: may call the admin (tenants) routes"),
	})
	return pool, client
}
