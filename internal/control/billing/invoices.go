package billing

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/invoice"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// Records reads a tenant's billing records with the control plane's own
// credentials (store.ReadBillingInputs).
type Records func(ctx context.Context, tenantID string, from, to time.Time) (store.BillingInputs, error)

// StoreRecords reads them from the catalog and the ledger.
func StoreRecords(c *store.Catalog, l *store.Ledger) Records {
	return func(ctx context.Context, tenantID string, from, to time.Time) (store.BillingInputs, error) {
		return store.ReadBillingInputs(ctx, c, l, tenantID, from, to)
	}
}

// Invoices computes the invoices of month (its first instant) at now, for
// every tenant (or only the one named) that existed in the month.
func Invoices(ctx context.Context, tenants func(ctx context.Context, only string) ([]catalog.Record, error), records Records,
	month time.Time, only string, now time.Time) ([]invoice.Invoice, error) {
	recs, err := tenants(ctx, only)
	if err != nil {
		return nil, fmt.Errorf("invoices: %w", err)
	}
	out := []invoice.Invoice{}
	for _, rec := range recs {
		in, err := records(ctx, rec.TenantID, month, month.AddDate(0, 1, 0))
		if err != nil {
			return nil, fmt.Errorf("invoice of %s: %w", rec.TenantID, err)
		}
		inv, err := invoice.Compute(in.InvoiceInput(month, rec, now))
		if err != nil {
			return nil, fmt.Errorf("invoice of %s: %w", rec.TenantID, err)
		}
		if len(inv.Lines) > 0 || only != "" {
			out = append(out, inv)
		}
	}
	return out, nil
}

// CSVHeader is the header of WriteCSV: one row per invoice line, then each
// invoice's TOTAL row.
var CSVHeader = []string{"tenant_id", "month", "draft", "kind", "tier", "from", "to", "days", "days_in_month",
	"quantity", "unit_price_cents", "unit", "amount_cents", "note"}

// WriteCSV writes the invoices' lines.
func WriteCSV(w io.Writer, invs []invoice.Invoice) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, inv := range invs {
		draft := strconv.FormatBool(inv.Draft)
		for _, l := range inv.Lines {
			if err := cw.Write([]string{inv.TenantID, inv.Month, draft, l.Kind, string(l.Tier), l.From, l.To, strconv.Itoa(l.Days),
				strconv.Itoa(l.DaysInMonth), i64(l.Quantity), i64(l.UnitPrice), l.Unit, i64(l.Amount), l.Note}); err != nil {
				return err
			}
		}
		if err := cw.Write([]string{inv.TenantID, inv.Month, draft, "TOTAL", "", "", "", "", "", "", "", inv.Currency, i64(inv.Total), ""}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes the invoices with the month and the price table.
func WriteJSON(w io.Writer, month time.Time, invs []invoice.Invoice) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Month    string                      `json:"month"`
		Prices   map[catalog.Tier]plan.Price `json:"prices"`
		Invoices []invoice.Invoice           `json:"invoices"`
	}{month.Format("2006-01"), plan.Prices(), invs})
}
