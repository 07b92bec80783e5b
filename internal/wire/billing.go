package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tessera-saas/tessera/internal/control/billing"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// NewBilling composes the billing job (functions/billing and `tessera
// invoices report`): the tenants from the catalog, stored items counted in
// each tenant's own session, the usage ledger, and the Stripe reporter at
// st.APIBase. The Stripe key is read at the first report: from Secrets
// Manager (st.SecretARN) in a deployed stage, else st.APIKey. It makes no
// AWS call.
func NewBilling(cfg aws.Config, s settings.Settings, st settings.Stripe, log *slog.Logger) *billing.Job {
	return &billing.Job{
		Source:   NewUsageSource(cfg, s),
		Ledger:   store.NewLedger(store.NewClient(cfg), s.CatalogTable),
		Reporter: billing.NewStripe(StripeKey(secretsmanager.NewFromConfig(cfg), st), billing.StripeOptions{APIBase: st.APIBase}),
		Log:      log,
	}
}

// NewBillingFromEnv is NewBilling with the Stripe settings of the
// environment (settings.StripeFromEnv).
func NewBillingFromEnv(cfg aws.Config, s settings.Settings, log *slog.Logger) *billing.Job {
	return NewBilling(cfg, s, settings.StripeFromEnv(), log)
}

// StripeKey returns the function that reads the Stripe secret API key.
func StripeKey(sm SecretsManager, st settings.Stripe) func(context.Context) (string, error) {
	if st.SecretARN != "" {
		arn := st.SecretARN
		return func(ctx context.Context) (string, error) {
			out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
			if err != nil {
				return "", fmt.Errorf("read the Stripe key secret: %w", err)
			}
			if out.SecretString == nil {
				return "", errors.New("the Stripe key secret has no string value")
			}
			key := strings.TrimSpace(*out.SecretString)
			if !strings.HasPrefix(key, "sk_") && !strings.HasPrefix(key, "rk_") {
				// The CDK app creates the secret with a generated
				// placeholder until an operator puts the real key.
				return "", errors.New("the Stripe key secret holds no Stripe secret or restricted key (sk_... or rk_...): put the key first")
			}
			return key, nil
		}
	}
	key := st.APIKey
	return func(context.Context) (string, error) {
		if key == "" {
			return "", fmt.Errorf("no Stripe key: set %s (or %s in a deployed stage)", settings.EnvStripeAPIKey, settings.EnvStripeSecretARN)
		}
		return key, nil
	}
}
