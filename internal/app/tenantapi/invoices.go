package tenantapi

import (
	"context"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/invoice"
)

// invoiceList is the answer of GET /v1/billing/invoices: the caller's
// tenant's invoice of the month asked for (none when the tenant did not
// exist then).
type invoiceList struct {
	Items []invoice.Invoice `json:"items" required:"true"`
}

// listInvoices answers the caller's tenant's invoice of ?month=YYYY-MM (the
// current month, a draft, when it is left out). Admins only. Its inputs (tier
// history, hourly usage, storage samples) are read in the tenant's own
// TenantDataAccessRole session, which may read only its own billing
// partitions of the catalog table.
func (h *Handler) listInvoices(ctx context.Context, c caller, req events.APIGatewayProxyRequest) (int, any, error) {
	if !c.IsAdmin() {
		return 0, nil, edge.NewError(http.StatusForbidden, edge.CodeForbidden, "only the tenant's admins may read its invoices")
	}
	now := time.Now().UTC()
	month := invoice.Month(now)
	if v, ok := req.QueryStringParameters["month"]; ok {
		m, err := invoice.ParseMonth(v)
		if err != nil {
			return 0, nil, edge.NewError(http.StatusBadRequest, edge.CodeValidation, "month must be YYYY-MM, such as 2026-11")
		}
		month = m
	}
	in, err := c.data.BillingInputs(ctx, month, month.AddDate(0, 1, 0))
	if err != nil {
		return 0, nil, err
	}
	rec, err := h.tenants.Get(ctx, c.ID)
	if err != nil {
		return 0, nil, err
	}
	inv, err := invoice.Compute(in.InvoiceInput(month, rec, now))
	if err != nil {
		return 0, nil, err
	}
	out := invoiceList{Items: []invoice.Invoice{}}
	if len(inv.Lines) > 0 {
		out.Items = append(out.Items, inv)
	}
	return http.StatusOK, out, nil
}
