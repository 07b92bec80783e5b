package main

import (
	"slices"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// poolStack synthesizes the user pool alone, in a stack of an app with the
// given context.
func poolStack(t *testing.T, stage string, context map[string]any) awscdk.Stack {
	t.Helper()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), Context: &context})
	stack := awscdk.NewStack(app, jsii.String("Pool"), nil)
	newUserPool(stack, config{Stage: stage})
	return stack
}

// TestUserPoolSendsWithSESFromContext: with sesFrom (and its Region and
// configuration set) in the context, the pool sends through SES in the
// account, from that sender.
func TestUserPoolSendsWithSESFromContext(t *testing.T) {
	stack := poolStack(t, "prod", map[string]any{ctxSESFrom: "invites@tessera.example", ctxSESFromName: "Tessera",
		ctxSESRegion: "eu-west-1", ctxSESConfigurationSet: "tessera-prod"})
	tmpl := assertions.Template_FromStack(stack, nil)
	check(t, "EmailConfiguration", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPool"), map[string]any{
			"EmailConfiguration": map[string]any{
				"EmailSendingAccount": "DEVELOPER",
				"From":                "Tessera <invites@tessera.example>",
				"ConfigurationSet":    "tessera-prod",
				"SourceArn": map[string]any{"Fn::Join": []any{"", []any{
					"arn:", map[string]any{"Ref": "AWS::Partition"}, ":ses:eu-west-1:", map[string]any{"Ref": "AWS::AccountId"},
					":identity/invites@tessera.example"}}},
			},
		})
	})
	check(t, "no errors", func() {
		assertions.Annotations_FromStack(stack).HasNoError(jsii.String("*"), assertions.Match_AnyValue())
	})
}

// TestProdUserPoolRequiresSES: prod without sesFrom is a synth error;
// another stage keeps Cognito's email, with a warning about its quota.
func TestProdUserPoolRequiresSES(t *testing.T) {
	check(t, "prod", func() {
		assertions.Annotations_FromStack(poolStack(t, "prod", map[string]any{})).
			HasError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("needs SES.*"+ctxSESFrom)))
	})
	dev := poolStack(t, "dev", map[string]any{})
	check(t, "dev", func() {
		assertions.Annotations_FromStack(dev).HasWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("about 50 messages a day")))
		assertions.Annotations_FromStack(dev).HasNoError(jsii.String("*"), assertions.Match_AnyValue())
		assertions.Template_FromStack(dev, nil).HasResourceProperties(jsii.String("AWS::Cognito::UserPool"), map[string]any{
			"EmailConfiguration": map[string]any{"EmailSendingAccount": "COGNITO_DEFAULT"},
		})
	})
	// Without a Region known at synth, sesRegion is required.
	check(t, "no region", func() {
		assertions.Annotations_FromStack(poolStack(t, "dev", map[string]any{ctxSESFrom: "invites@tessera.example"})).
			HasError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String(ctxSESRegion)))
	})
}

// TestAppClientCannotWriteTheEmail: users are keyed by sub, and the email is
// neither writable by the app client nor changed before the new address is
// verified.
func TestAppClientCannotWriteTheEmail(t *testing.T) {
	s := synth(t)
	for _, c := range s.DataJSON.resources("AWS::Cognito::UserPoolClient") {
		write := strs(props(c)["WriteAttributes"])
		if len(write) == 0 || slices.Contains(write, "email") {
			t.Errorf("app client WriteAttributes = %v: want a non-empty list without email", write)
		}
	}
	check(t, "keep original", func() {
		s.Data.HasResourceProperties(jsii.String("AWS::Cognito::UserPool"), map[string]any{
			"UserAttributeUpdateSettings": map[string]any{"AttributesRequireVerificationBeforeUpdate": []any{"email"}},
		})
	})
}
