package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/control/billing"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/invoice"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// invoicesEnv points the CLI's configuration at the test stack.
func invoicesEnv(t *testing.T, e *testenv.Env) {
	t.Setenv(settings.EnvCatalogTable, e.Settings.CatalogTable)
	t.Setenv(settings.EnvPooledTable, e.Settings.PooledTable)
	t.Setenv(settings.EnvDataAccessRoleARN, e.Settings.DataAccessRoleARN)
}

// TestInvoicesCommandPrintsTheScriptedMonth: `tessera invoices` prints the
// scripted month's invoice (the figure computed by hand in
// internal/platform/invoice) as JSON and CSV; a bad month is a clear error;
// `invoices report` sends the month's hours to stripe-mock once.
func TestInvoicesCommandPrintsTheScriptedMonth(t *testing.T) {
	e := testenv.Setup(t)
	invoicesEnv(t, e)
	ctx := context.Background()
	id := fixture.NewTenant(t, e, "cli-invoice").Record.TenantID
	fixture.WriteBillingMonth(t, e, id)

	var out bytes.Buffer
	if err := invoicesMain(ctx, []string{"--month", "2026-11", "--tenant", id, "--format", "json"}, &out); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Month    string            `json:"month"`
		Invoices []invoice.Invoice `json:"invoices"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if doc.Month != "2026-11" || len(doc.Invoices) != 1 || doc.Invoices[0].Total != fixture.BillingMonthTotal || doc.Invoices[0].Draft {
		t.Fatalf("json = %s, want one final invoice of %d cents", out.String(), fixture.BillingMonthTotal)
	}

	out.Reset()
	if err := invoicesMain(ctx, []string{"--month", "2026-11", "--tenant", id}, &out); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil || len(rows) != 1+6+1 {
		t.Fatalf("csv = %v, %v; want a header, 6 lines and a total", rows, err)
	}
	if total := rows[len(rows)-1]; total[3] != "TOTAL" || total[12] != "34299" {
		t.Fatalf("total row = %v, want TOTAL 34299", total)
	}

	for _, bad := range [][]string{{"--month", "2026-13"}, {"--month", "11-2026"}, {}} {
		if err := invoicesMain(ctx, bad, &out); err == nil || !strings.Contains(err.Error(), "YYYY-MM") {
			t.Errorf("invoices %v = %v, want an error asking for YYYY-MM", bad, err)
		}
	}

	// Reporting the month: 720 hours with requests (Nov 1-10: 240; the
	// 11th before the change: 9; after it: 471), then nothing new.
	t.Setenv(settings.EnvStripeAPIBase, testenv.Stripe(t))
	t.Setenv(settings.EnvStripeAPIKey, testenv.StripeAPIKey)
	if err := invoicesMain(ctx, []string{"set-customer", "--actor", "finance-ann", id, "cus_cli"}, &out); err != nil {
		t.Fatal(err)
	}
	// Recorded with its audit entry, in one transaction.
	if trail, err := store.NewCatalog(store.NewClient(e.Config), e.Settings.CatalogTable).AuditTrail(ctx, id); err != nil {
		t.Fatal(err)
	} else if n := len(trail); n == 0 || trail[n-1].Action != "set-billing-customer" || trail[n-1].Actor != "finance-ann" || trail[n-1].Detail != "billing customer cus_cli" {
		t.Fatalf("audit trail after set-customer = %+v", trail)
	}
	for i, want := range []struct{ sent, already int }{{720, 0}, {0, 720}} {
		out.Reset()
		if err := invoicesMain(ctx, []string{"report", "--month", "2026-11", "--tenant", id}, &out); err != nil {
			t.Fatalf("report %d: %v\n%s", i, err, out.String())
		}
		var sum billing.Summary
		if err := json.Unmarshal(out.Bytes(), &sum); err != nil || len(sum.Tenants) != 1 ||
			sum.Tenants[0].Sent != want.sent || sum.Tenants[0].Reported != want.already {
			t.Fatalf("report %d = %s, %v; want %d sent, %d already reported", i, out.String(), err, want.sent, want.already)
		}
	}
}
