package features

import (
	"context"
	"fmt"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
)

// Domain is the OpenFeature domain of Tessera's client.
const Domain = "tessera"

// NewClient registers provider in an OpenFeature API of its own (not the
// SDK's global singleton, so handlers and tests in one process never share
// or replace each other's provider) and returns a client of it. With
// Tessera's Provider it makes no AWS call. To serve flags from elsewhere
// (an AWS AppConfig provider, say: see the README), pass that provider
// instead; the callers do not change.
func NewClient(ctx context.Context, provider openfeature.FeatureProvider) (*openfeature.Client, error) {
	api := isolated.NewAPI()
	if err := api.SetProviderAndWait(ctx, provider, openfeature.WithDomain(Domain)); err != nil {
		return nil, fmt.Errorf("feature flag provider: %w", err)
	}
	return api.NewClient(openfeature.WithDomain(Domain)), nil
}
