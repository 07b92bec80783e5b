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

// Context keys of the pool's email (cdk.json or `cdk deploy -c key=value`).
const (
	// ctxSESFrom is the sender of invitations and password resets, an
	// address (or an address in a domain) verified in SES. Required for the
	// prod stage.
	ctxSESFrom = "sesFrom"
	// ctxSESFromName is the sender's display name (optional).
	ctxSESFromName = "sesFromName"
	// ctxSESRegion is the Region of the SES identity (optional: the stack's
	// Region; required when the stack's Region is not known at synth).
	ctxSESRegion = "sesRegion"
	// ctxSESConfigurationSet is an SES configuration set for the pool's
	// messages (optional).
	ctxSESConfigurationSet = "sesConfigurationSet"
	// ctxSESVerifiedDomain is the verified SES domain, when the identity is
	// a domain rather than the sender's address (optional).
	ctxSESVerifiedDomain = "sesVerifiedDomain"
)

// poolEmail is how the pool sends email. With sesFrom in the context, it is
// SES in this account (the DEVELOPER sending account: SES's own quota and
// reputation, configuration set and sender). Without it, a non-prod stage
// keeps Cognito's built-in email, which allows about 50 messages per day per
// account (a warning says so at synth), and the prod stage is an error: one
// busy day of invitations would stop every onboarding.
func poolEmail(scope constructs.Construct, cfg config) awscognito.UserPoolEmail {
	ctx := func(key string) *string {
		if v, ok := scope.Node().TryGetContext(jsii.String(key)).(string); ok && v != "" {
			return jsii.String(v)
		}
		return nil
	}
	from := ctx(ctxSESFrom)
	if from == nil {
		if cfg.Prod() {
			awscdk.Annotations_Of(scope).AddError(jsii.String("the prod user pool needs SES: set the context " + ctxSESFrom +
				" to an SES-verified sender (Cognito's built-in email allows about 50 messages a day per account)"))
		} else {
			awscdk.Annotations_Of(scope).AddWarningV2(jsii.String("tessera:cognitoEmail"), jsii.String("no "+ctxSESFrom+
				" in the context: the user pool sends with Cognito's built-in email, about 50 messages a day per account"))
		}
		return awscognito.UserPoolEmail_WithCognito(nil)
	}
	region := ctx(ctxSESRegion)
	if region == nil && *awscdk.Token_IsUnresolved(awscdk.Stack_Of(scope).Region()) {
		awscdk.Annotations_Of(scope).AddError(jsii.String("the stack's Region is not known at synth: set the context " + ctxSESRegion + " to the Region of the SES identity"))
		region = jsii.String("us-east-1") // synth goes on to report the error
	}
	return awscognito.UserPoolEmail_WithSES(&awscognito.UserPoolSESOptions{
		FromEmail:            from,
		FromName:             ctx(ctxSESFromName),
		SesRegion:            region,
		ConfigurationSetName: ctx(ctxSESConfigurationSet),
		SesVerifiedDomain:    ctx(ctxSESVerifiedDomain),
	})
}

// newUserPool defines the user pool of tenant users and operators, its app
// client and the operators group.
//
// The tenant id and role are custom attributes that are immutable (set once,
// by the provisioner, with AdminCreateUser) and absent from the app client's
// write attributes, so no user can move into another tenant or promote
// themselves. Sign-up is closed: tenant admins are created by the
// provisioner. Users are known by their sub (records, offboarding); the app
// client cannot write the email either, and an email changed by an admin
// takes effect only once the new address is verified (keepOriginal).
func newUserPool(scope constructs.Construct, cfg config) (awscognito.UserPool, awscognito.UserPoolClient) {
	removal := awscdk.RemovalPolicy_DESTROY
	if cfg.Prod() {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	pool := awscognito.NewUserPool(scope, jsii.String("UserPool"), &awscognito.UserPoolProps{
		Email:               poolEmail(scope, cfg),
		KeepOriginal:        &awscognito.KeepOriginalAttrs{Email: jsii.Bool(true)},
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
		// Users may read their email, tenant and role, and write only their
		// display name: not the email (a username attribute, and what an
		// invitation was sent to), nor anything that grants access. The list
		// is never empty, as an absent one means "every writable attribute".
		ReadAttributes: awscognito.NewClientAttributes().
			WithStandardAttributes(&awscognito.StandardAttributesMask{Email: jsii.Bool(true), EmailVerified: jsii.Bool(true)}).
			WithCustomAttributes(jsii.String(attrTenantID), jsii.String(attrRole)),
		WriteAttributes: awscognito.NewClientAttributes().
			WithStandardAttributes(&awscognito.StandardAttributesMask{Fullname: jsii.Bool(true)}),
	})

	pool.AddGroup(jsii.String("Operators"), &awscognito.UserPoolGroupOptions{
		GroupName:   jsii.String(operatorsGroup),
		Description: jsii.String("Tessera operators: may call the admin (tenants) routes"),
	})
	return pool, client
}
