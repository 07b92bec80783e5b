package wire_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/entityid"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/wire"
)

// TestStripeKeyFromSecret: with the secret set (a deployed stage), the
// Stripe key is read from Secrets Manager (moto) when the reporter first
// asks, not before; the CDK's generated placeholder is refused without
// echoing it; without a secret the local key is used, and no key at all is
// an error naming the settings.
func TestStripeKeyFromSecret(t *testing.T) {
	e := testenv.Setup(t)
	ctx := context.Background()
	sm := &countSecrets{Client: secretsmanager.NewFromConfig(e.Config)}
	put := func(value string) string {
		sec, err := sm.Client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: aws.String("tessera-test-stripe-" + entityid.New()), SecretString: aws.String(value)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(sec.ARN)
	}
	good, placeholder := put(" sk_test_fromsecret\n"), put("Zq8generatedPlaceholder")
	key := wire.StripeKey(sm, settings.Stripe{SecretARN: good, APIKey: "sk_test_local"})
	if sm.reads.Load() != 0 {
		t.Fatal("the secret was read before the first report")
	}
	if k, err := key(ctx); err != nil || k != "sk_test_fromsecret" || sm.reads.Load() != 1 {
		t.Fatalf("key = %q, %v after %d reads; want the secret's (trimmed), which wins over the local key", k, err, sm.reads.Load())
	}
	if _, err := wire.StripeKey(sm, settings.Stripe{SecretARN: placeholder})(ctx); err == nil || strings.Contains(err.Error(), "Zq8generated") {
		t.Fatalf("placeholder: %v, want refused without its value", err)
	}
	if k, err := wire.StripeKey(sm, settings.Stripe{APIKey: "sk_test_local"})(ctx); err != nil || k != "sk_test_local" {
		t.Fatalf("local key = %q, %v", k, err)
	}
	if _, err := wire.StripeKey(sm, settings.Stripe{})(ctx); err == nil || !strings.Contains(err.Error(), settings.EnvStripeAPIKey) {
		t.Fatalf("no key: %v, want an error naming %s", err, settings.EnvStripeAPIKey)
	}
}
