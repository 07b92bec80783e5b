package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/tessera-saas/tessera/internal/control/usage"
	"github.com/tessera-saas/tessera/internal/wire"
)

// runUsage prints the finance report from the usage ledger.
func runUsage(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("usage", flag.ContinueOnError)
	from := fs.String("from", "", "first day, YYYY-MM-DD (UTC, inclusive)")
	to := fs.String("to", "", "last day, YYYY-MM-DD (UTC, exclusive)")
	only := fs.String("tenant", "", "one tenant id (default: all)")
	format := fs.String("format", "csv", "csv or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := time.Parse(time.DateOnly, *from)
	if err != nil {
		return fmt.Errorf("usage: --from must be YYYY-MM-DD")
	}
	t, err := time.Parse(time.DateOnly, *to)
	if err != nil {
		return fmt.Errorf("usage: --to must be YYYY-MM-DD")
	}
	if *format != "csv" && *format != "json" {
		return fmt.Errorf("usage: --format must be csv or json")
	}
	cfg, s, err := loadConfig(ctx)
	if err != nil {
		return err
	}
	rows, err := usage.Build(ctx, wire.NewUsageSource(cfg, s), f, t, *only, usage.DefaultPrices)
	if err != nil {
		return err
	}
	if *format == "json" {
		return usage.WriteJSON(os.Stdout, rows, f, t, usage.DefaultPrices)
	}
	return usage.WriteCSV(os.Stdout, rows)
}
