package tenantapi

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// listAudit answers a page of the caller's own tenant's audit trail
// (GET /v1/audit?from&to&limit&cursor), oldest first, read in the tenant's
// scoped session (which IAM confines to its own trail). Admins only.
func (h *Handler) listAudit(ctx context.Context, c caller, req events.APIGatewayProxyRequest) (int, any, error) {
	if !c.IsAdmin() {
		return 0, nil, edge.NewError(http.StatusForbidden, edge.CodeForbidden, "only the tenant's admins may read its audit log")
	}
	from, to, err := edge.TimeRange(req)
	if err != nil {
		return 0, nil, err
	}
	pr, err := edge.PageRequest(req)
	if err != nil {
		return 0, nil, err
	}
	page, err := c.data.Audit(ctx, store.AuditQuery{From: from, To: to, Cursor: pr.Cursor, Limit: pr.Limit})
	return http.StatusOK, page, err
}
