package testenv

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/local/emulator"
)

var (
	stripeOnce sync.Once
	stripeMock *emulator.StripeMock
	stripeErr  error
)

// EnvStripeMock, when set, is the URL of a stripe-mock to use instead of
// starting one.
const EnvStripeMock = "TESSERA_TEST_STRIPE_MOCK"

// StripeAPIKey is the key tests give stripe-mock, which accepts any key of
// the right shape.
const StripeAPIKey = "sk_test_tessera"

// Stripe returns the base URL of a stripe-mock, starting one on a free port
// on first use (Main stops it). A missing binary skips the test, except in
// CI (CI=true), where it fails, as Setup does for the AWS emulators.
func Stripe(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped in -short mode")
	}
	if u := os.Getenv(EnvStripeMock); u != "" {
		return u
	}
	stripeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		stripeMock, stripeErr = emulator.StartStripeMock(ctx, "", "")
	})
	if stripeErr != nil {
		if errors.Is(stripeErr, emulator.ErrNotInstalled) && os.Getenv("CI") != "true" {
			t.Skipf("SKIPPING stripe-mock test: %v", stripeErr)
		}
		t.Fatalf("stripe-mock: %v", stripeErr)
	}
	return stripeMock.URL
}

// stopStripe stops the stripe-mock Stripe started, if any.
func stopStripe() {
	if stripeMock != nil {
		stripeMock.Stop()
	}
}
