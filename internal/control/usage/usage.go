package usage

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/metering"
)

// Prices is the price table of the cost estimate, in USD. The defaults are
// AWS list prices for us-east-1 (November 2026) of what a request and a
// stored item cost this deployment; they are an estimate for finance, not
// an invoice (what tenants pay is plan.Price, internal/platform/invoice).
type Prices struct {
	// PerMillionRequests: API Gateway REST ($3.50) + Lambda requests ($0.20)
	// + Lambda compute for a 512 MB arm64 function running ~20 ms ($0.11).
	PerMillionRequests float64 `json:"perMillionRequests"`
	// PerMillionReadUnits and PerMillionWriteUnits: DynamoDB on-demand read
	// and write request units.
	PerMillionReadUnits  float64 `json:"perMillionReadUnits"`
	PerMillionWriteUnits float64 `json:"perMillionWriteUnits"`
	// PerMillionItemMonths: DynamoDB storage at $0.25 per GB-month for items
	// of about 1 KB.
	PerMillionItemMonths float64 `json:"perMillionItemMonths"`
}

// DefaultPrices is the documented price table.
var DefaultPrices = Prices{PerMillionRequests: 3.81, PerMillionReadUnits: 0.125, PerMillionWriteUnits: 0.625, PerMillionItemMonths: 0.25}

// Row is one tenant's line of the report.
type Row struct {
	TenantID           string  `json:"tenantId"`
	Name               string  `json:"name"`
	Tier               string  `json:"tier"`
	Status             string  `json:"status"`
	Requests           int64   `json:"requests"`
	ReadCapacityUnits  float64 `json:"readCapacityUnits"`
	WriteCapacityUnits float64 `json:"writeCapacityUnits"`
	StoredItems        int64   `json:"storedItems"`
	EstimatedCostUSD   float64 `json:"estimatedCostUsd"`
}

// Source reads what the report needs.
type Source interface {
	Tenants(ctx context.Context, only string) ([]catalog.Record, error)
	Usage(ctx context.Context, tenantID string, from, to time.Time) (metering.Usage, error)
	StoredItems(ctx context.Context, rec catalog.Record) (int64, error)
}

// Build makes the report of [from, to) for every tenant, or only one.
func Build(ctx context.Context, src Source, from, to time.Time, only string, prices Prices) ([]Row, error) {
	if !from.Before(to) {
		return nil, fmt.Errorf("usage: --from %s is not before --to %s", from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	tenants, err := src.Tenants(ctx, only)
	if err != nil {
		return nil, err
	}
	months := to.Sub(from).Hours() / (24 * 30)
	rows := make([]Row, 0, len(tenants))
	for _, t := range tenants {
		u, err := src.Usage(ctx, t.TenantID, from, to)
		if err != nil {
			return nil, err
		}
		var items int64
		if t.Status == catalog.StatusActive || t.Status == catalog.StatusSuspended || t.Status == catalog.StatusRestoring {
			if items, err = src.StoredItems(ctx, t); err != nil {
				return nil, err
			}
		}
		cost := float64(u.Requests)/1e6*prices.PerMillionRequests +
			u.ReadCapacityUnits/1e6*prices.PerMillionReadUnits +
			u.WriteCapacityUnits/1e6*prices.PerMillionWriteUnits +
			float64(items)*months/1e6*prices.PerMillionItemMonths
		rows = append(rows, Row{TenantID: t.TenantID, Name: t.Name, Tier: string(t.Tier), Status: string(t.Status),
			Requests: u.Requests, ReadCapacityUnits: round(u.ReadCapacityUnits), WriteCapacityUnits: round(u.WriteCapacityUnits),
			StoredItems: items, EstimatedCostUSD: math.Round(cost*1e6) / 1e6})
	}
	return rows, nil
}

func round(f float64) float64 { return math.Round(f*1000) / 1000 }

// Header is the CSV header.
var Header = []string{"tenant_id", "name", "tier", "status", "requests", "read_capacity_units", "write_capacity_units", "stored_items", "estimated_cost_usd"}

// WriteCSV writes the rows with a header and a total line.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(Header); err != nil {
		return err
	}
	var total Row
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, r := range rows {
		if err := cw.Write([]string{r.TenantID, r.Name, r.Tier, r.Status, strconv.FormatInt(r.Requests, 10),
			f(r.ReadCapacityUnits), f(r.WriteCapacityUnits), strconv.FormatInt(r.StoredItems, 10), strconv.FormatFloat(r.EstimatedCostUSD, 'f', 6, 64)}); err != nil {
			return err
		}
		total.Requests += r.Requests
		total.ReadCapacityUnits += r.ReadCapacityUnits
		total.WriteCapacityUnits += r.WriteCapacityUnits
		total.StoredItems += r.StoredItems
		total.EstimatedCostUSD += r.EstimatedCostUSD
	}
	if err := cw.Write([]string{"TOTAL", "", "", "", strconv.FormatInt(total.Requests, 10), f(round(total.ReadCapacityUnits)),
		f(round(total.WriteCapacityUnits)), strconv.FormatInt(total.StoredItems, 10), strconv.FormatFloat(total.EstimatedCostUSD, 'f', 6, 64)}); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes the report with its period and price table.
func WriteJSON(w io.Writer, rows []Row, from, to time.Time, prices Prices) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		From    string `json:"from"`
		To      string `json:"to"`
		Prices  Prices `json:"prices"`
		Tenants []Row  `json:"tenants"`
	}{from.Format(time.DateOnly), to.Format(time.DateOnly), prices, rows})
}
