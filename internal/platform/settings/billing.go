package settings

import (
	"os"
	"strings"
)

// The payment provider's settings (internal/control/billing), read by the
// billing function and `tessera invoices report` only.
const (
	// EnvStripeSecretARN names the Secrets Manager secret holding the
	// Stripe secret API key of a deployed stage; the key is read at the
	// first report, never at cold start, and never logged.
	EnvStripeSecretARN = "TESSERA_STRIPE_SECRET_ARN"
	// EnvStripeAPIKey is the key itself, for local runs (stripe-mock
	// accepts any "sk_test_..." key); the secret wins when both are set.
	EnvStripeAPIKey = "TESSERA_STRIPE_API_KEY"
	// EnvStripeAPIBase is the API's base URL; unset, Stripe's own. Point it
	// at stripe-mock locally (http://127.0.0.1:12111).
	EnvStripeAPIBase = "TESSERA_STRIPE_API_BASE"
)

// Stripe is the payment provider's configuration.
type Stripe struct {
	SecretARN string
	APIKey    string
	APIBase   string
}

// StripeFromEnv reads the Stripe settings.
func StripeFromEnv() Stripe {
	get := func(k string) string { return strings.TrimSpace(os.Getenv(k)) }
	return Stripe{SecretARN: get(EnvStripeSecretARN), APIKey: get(EnvStripeAPIKey), APIBase: get(EnvStripeAPIBase)}
}
