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
	// The operator routes' Cognito authorizer; the tenant routes' Lambda
	// authorizer verifies tokens with a verifier of its own, as in AWS.
	v, err := wire.NewVerifier(cfg, s)
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
	// The usage ledger is written on the flusher's timer, not on requests,
	// and once more when the gateway stops (bounded) before the process ends.
	flusherCtx, stopFlusher := context.WithCancel(ctx)
	flushed := make(chan struct{})
	go func() { defer close(flushed); app.RunUsageFlusher(flusherCtx) }()
	defer func() { stopFlusher(); <-flushed }()
	tenants := wire.NewTenants(cfg, s, log.With("function", "tenants"))
	gw := gateway.New(v, map[route.Function]gateway.Handler{
		route.FunctionAPI:     app.Handler.Handle,
		route.FunctionTenants: tenants.Handle,
	}, log.With("component", "gateway"),
		gateway.WithAuthorizer(wire.NewAuthorizer(cfg, s, log.With("function", "authorizer")).Handle),
		gateway.WithLimits(throttle.New()),
		gateway.WithAuthorizerCache(gateway.AuthorizerCacheTTL, wire.MaxCachedTokens))
	return gateway.Serve(ctx, addr, gw, ready)
}

// serveRouter runs the cell router's API (route.Router) in front of the
// cells that s.Cells lists, until ctx ends.
func serveRouter(ctx context.Context, cfg aws.Config, s settings.Settings, addr string, ready func(net.Addr)) error {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	v, err := wire.NewVerifier(cfg, s)
	if err != nil {
		return err
	}
	router, err := wire.NewRouter(cfg, s, log.With("function", "router"))
	if err != nil {
		return err
	}
	gw := gateway.New(v, map[route.Function]gateway.Handler{route.FunctionRouter: router.Handle}, log.With("component", "router-gateway"),
		gateway.WithRoutes(route.Router))
	return gateway.Serve(ctx, addr, gw, ready)
}
