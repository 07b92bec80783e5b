package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tessera-saas/tessera/internal/control/billing"
	"github.com/tessera-saas/tessera/internal/platform/invoice"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/wire"
)

const invoicesHelp = `tessera invoices: monthly invoices from the usage ledger, and usage reporting to Stripe

  tessera invoices --month YYYY-MM [--tenant ID] [--format csv|json]
        every tenant's invoice of the month (or one tenant's); the month not ended is a draft
  tessera invoices report --month YYYY-MM [--tenant ID]
        report the month's ended hours to Stripe as meter events and mark them in the ledger
        (what the billing function does every hour); hours with a mark are not sent again
  tessera invoices sample [--tenant ID]
        record today's storage sample of each tenant that has none yet
  tessera invoices set-customer [--actor NAME] TENANT_ID CUSTOMER_ID
        record the tenant's Stripe customer ("" removes it); tenants without one are not reported

Stripe: TESSERA_STRIPE_API_KEY (or TESSERA_STRIPE_SECRET_ARN), TESSERA_STRIPE_API_BASE (stripe-mock
locally: .local/bin/stripe-mock -http-port 12111, then TESSERA_STRIPE_API_BASE=http://127.0.0.1:12111
TESSERA_STRIPE_API_KEY=sk_test_local).
`

// runInvoices prints invoices, or runs one of the billing subcommands.
func runInvoices(ctx context.Context, args []string) error {
	return invoicesMain(ctx, args, os.Stdout)
}

func invoicesMain(ctx context.Context, args []string, out io.Writer) error {
	sub := ""
	if len(args) > 0 && (args[0] == "report" || args[0] == "sample" || args[0] == "set-customer" || args[0] == "help") {
		sub, args = args[0], args[1:]
	}
	if sub == "help" || (len(args) > 0 && (args[0] == "-h" || args[0] == "--help")) {
		fmt.Fprint(out, invoicesHelp)
		return nil
	}
	fs := flag.NewFlagSet("invoices "+sub, flag.ContinueOnError)
	month := fs.String("month", "", "YYYY-MM (UTC)")
	only := fs.String("tenant", "", "one tenant id (default: all)")
	format := fs.String("format", "csv", "csv or json")
	actor := fs.String("actor", os.Getenv("USER"), "set-customer: who sets it (audited)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if sub == "set-customer" {
		if fs.NArg() != 2 {
			return errors.New("invoices set-customer: give TENANT_ID CUSTOMER_ID")
		}
		cfg, s, err := loadConfig(ctx)
		if err != nil {
			return err
		}
		return store.NewCatalog(store.NewClient(cfg), s.CatalogTable).SetBillingCustomer(ctx, fs.Arg(0), fs.Arg(1), cmp.Or(*actor, "operator"))
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("invoices: unexpected %q", fs.Arg(0))
	}
	var m time.Time
	if sub != "sample" {
		var err error
		if m, err = invoice.ParseMonth(*month); err != nil {
			return fmt.Errorf("invoices: --month must be YYYY-MM, such as 2026-11 (got %q)", *month)
		}
	}
	if *format != "csv" && *format != "json" {
		return errors.New("invoices: --format must be csv or json")
	}
	cfg, s, err := loadConfig(ctx)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	switch sub {
	case "report":
		job := wire.NewBilling(cfg, s, settings.StripeFromEnv(), nil)
		sum, err := job.Report(ctx, m, m.AddDate(0, 1, 0), *only)
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if eerr := enc.Encode(sum); eerr != nil {
			return eerr
		}
		return err
	case "sample":
		n, err := wire.NewBilling(cfg, s, settings.StripeFromEnv(), nil).SampleStorage(ctx, now, *only)
		fmt.Fprintf(out, "%d storage samples recorded for %s\n", n, now.Format(time.DateOnly))
		return err
	}
	src := wire.NewUsageSource(cfg, s)
	invs, err := billing.Invoices(ctx, src.Tenants, billing.StoreRecords(src.Catalog, src.Ledger), m, *only, now)
	if err != nil {
		return err
	}
	if *format == "json" {
		return billing.WriteJSON(out, m, invs)
	}
	return billing.WriteCSV(out, invs)
}
