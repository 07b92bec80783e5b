// Command tessera is the operator and developer CLI: it runs the local stack
// (up, local, emulator, bootstrap) and signs users in (login).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
	"github.com/tessera-saas/tessera/internal/platform/settings"
)

const helpText = `tessera: operator and developer CLI

Usage:
  tessera up [--addr 127.0.0.1:8080]     start the local stack, seed the demo tenants, serve the API
  tessera local [--addr 127.0.0.1:8080]  serve the API through the local gateway (uses .local/env)
  tessera emulator [--env-file F]        start the emulators only, write their environment, wait
  tessera bootstrap                      create tables, user pool, app client and bus (idempotent)
  tessera login --email E [--password P] print an ID token (password from --password,
                                         TESSERA_PASSWORD, or standard input)
  tessera tenants create|list|get|tier|suspend|resume|offboard|backup|backups|restore|jobs|job ...
                                         the operator's tenant management API ('tessera tenants' for help)
  tessera flags list|set|override ...    feature flags and entitlements: definitions, per-tenant
                                         overrides ('tessera flags' for help)
  tessera audit ID [--from T] [--to T] [--format table|json]
                                         a tenant's audit trail, oldest first (operator API)
  tessera fleet targets|plan|apply|status|rollback ...
                                         data migrations and TenantStack versions across every
                                         tenant, in waves ('tessera fleet' for help)
  tessera usage --from YYYY-MM-DD --to YYYY-MM-DD [--tenant ID] [--format csv|json]
                                         the finance report from the usage ledger
  tessera invoices --month YYYY-MM [--tenant ID] [--format csv|json]
                                         monthly invoices at the plan's prices; 'invoices report' sends
                                         usage to Stripe ('tessera invoices help')
  tessera api-key TENANT_ID              print the tenant's API key (the tenant authorizer sends it; clients never do)
  tessera users set-password --email E --password P
                                         set a user's password in the user pool (local: onboarded
                                         admins get no invitation email)

Environment: AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>), AWS_REGION, and the TESSERA_*
settings; 'source .local/env' after 'make run' points a second terminal at the running stack.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, helpText)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "up":
		err = runUp(ctx, args)
	case "local":
		err = runLocal(ctx, args)
	case "emulator":
		err = runEmulator(ctx, args)
	case "bootstrap":
		err = runBootstrap(ctx, args)
	case "login":
		err = runLogin(ctx, args)
	case "tenants":
		err = runTenants(ctx, args)
	case "audit":
		err = runAudit(ctx, args, os.Stdout)
	case "users":
		err = runUsers(ctx, args)
	case "usage":
		err = runUsage(ctx, args)
	case "invoices":
		err = runInvoices(ctx, args)
	case "fleet":
		err = runFleet(ctx, args)
	case "flags":
		err = runFlags(ctx, args)
	case "api-key":
		err = runAPIKey(ctx, args)
	case "help", "-h", "--help":
		fmt.Print(helpText)
	default:
		fmt.Fprintf(os.Stderr, "tessera: unknown command %q\n\n%s", cmd, helpText)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tessera:", err)
		os.Exit(1)
	}
}

// loadConfig reads the AWS configuration and the settings from the
// environment (.local/env after `make run`).
func loadConfig(ctx context.Context) (aws.Config, settings.Settings, error) {
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return aws.Config{}, settings.Settings{}, err
	}
	s, err := settings.FromEnv()
	return cfg, s, err
}
