package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/apigateway"

	"github.com/tessera-saas/tessera/internal/control/apikey"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// runAPIKey prints a tenant's API key, for an operator's inspection: the
// tenant authorizer returns it as the usageIdentifierKey of the tenant's
// verified requests, and API Gateway applies the usage plan of the tenant's
// tier to it; clients never send it. It needs the operator's AWS
// credentials (apigateway:GET on /apikeys).
func runAPIKey(ctx context.Context, args []string) error {
	if len(args) != 1 || !tenant.ValidID(args[0]) {
		return errors.New("api-key: usage: tessera api-key TENANT_ID")
	}
	cfg, s, err := loadConfig(ctx)
	if err != nil {
		return err
	}
	k, found, err := apikey.New(apigateway.NewFromConfig(cfg), s.Stage, s.UsagePlanIDs).Reveal(ctx, args[0])
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("api-key: tenant %s has no API key (not provisioned yet, or offboarded)", args[0])
	}
	fmt.Println(k.Value)
	return nil
}
