package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tessera-saas/tessera/internal/local/gateway"
	"github.com/tessera-saas/tessera/internal/local/throttle"
	"github.com/tessera-saas/tessera/internal/platform/idtoken"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/wire"
)

const defaultAddr = "127.0.0.1:8080"

func runLocal(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	addr := fs.String("addr", defaultAddr, "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, s, err := loadConfig(ctx)
	if err != nil {
		return err
	}
	if s.UserPoolID == "" || s.AppClientID == "" {
		return fmt.Errorf("%s and %s are not set: run `make run`, or `source .local/env` in this terminal", settings.EnvUserPoolID, settings.EnvAppClientID)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go runBackground(ctx, cfg, s, log)
	return serve(ctx, cfg, s, *addr, nil)
}

// serve runs the local gateway in front of the real handlers until ctx ends.
func serve(ctx context.Context, cfg aws.Config, s settings.Settings, addr string, ready func(net.Addr)) error {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	v, err := idtoken.NewVerifier(idtoken.Config{
		UserPoolID: s.UserPoolID,
		ClientID:   s.AppClientID,
		JWKSURL:    idtoken.JWKSURL(cognitoEndpoint(cfg.Region), s.UserPoolID),
	})
	if err != nil {
		return err
	}
	// No emulator extracts EMF: the local runner keeps the lines the
	// handler prints in .local/metrics.emf for inspection and tests.
	metrics, err := os.OpenFile(filepath.Join(".local", "metrics.emf"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open metrics file: %w", err)
	}
	defer metrics.Close()
	app := wire.NewAPI(cfg, s, log.With("function", "api"), metrics)
	tenants := wire.NewTenants(cfg, s, log.With("function", "tenants"))
	gw := gateway.New(v, map[route.Function]gateway.Handler{
		route.FunctionAPI:     app.Handler.Handle,
		route.FunctionTenants: tenants.Handle,
	}, log.With("component", "gateway"), gateway.WithLimits(wire.NewTierCache(cfg, s), throttle.New()),
		gateway.WithAuthorizerCache(gateway.AuthorizerCacheTTL, wire.MaxCachedTenants))
	return gateway.Serve(ctx, addr, gw, ready)
}

// cognitoEndpoint is where the user pool's JWKS is served: the endpoint in
// use for Cognito, or AWS's own.
func cognitoEndpoint(region string) string {
	for _, env := range []string{"AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", "AWS_ENDPOINT_URL"} {
		if v := os.Getenv(env); v != "" {
			return v
		}
	}
	return "https://cognito-idp." + region + ".amazonaws.com"
}
