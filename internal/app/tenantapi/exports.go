package tenantapi

import (
	"bytes"
	"context"
	"errors"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/export"
	"github.com/tessera-saas/tessera/internal/platform/features"
)

// Exports starts and reads the caller's tenant's data exports
// (internal/app/exporter).
type Exports interface {
	Start(ctx context.Context, sc catalog.Scope, requestID string) (export.Export, error)
	Get(ctx context.Context, sc catalog.Scope, id string) (export.Export, error)
}

// WithExports turns on the export routes; without it they answer 500.
func (h *Handler) WithExports(e Exports) *Handler {
	h.exports = e
	return h
}

// errExportsOff is a wiring error: the handler was built without exports.
var errExportsOff = errors.New("tenantapi: exports are not wired")

// requireExportAdmin lets only the tenant's admins export its data: an
// export holds every customer's decrypted details.
func requireExportAdmin(c caller) error {
	if !c.IsAdmin() {
		return edge.NewError(http.StatusForbidden, edge.CodeForbidden, "only the tenant's admins may export its data")
	}
	return nil
}

// exportRequest is the body of POST /v1/exports: nothing yet (an export is
// always of all the tenant's data). An empty body or {} is accepted; any
// field is unknown.
type exportRequest struct{}

// createExport queues an export of the caller's tenant: 202 with the QUEUED
// record.
func (h *Handler) createExport(ctx context.Context, c caller, req events.APIGatewayProxyRequest) (int, any, error) {
	if err := requireExportAdmin(c); err != nil {
		return 0, nil, err
	}
	b, err := edge.Body(req)
	if err != nil {
		return 0, nil, err
	}
	if b = bytes.TrimSpace(b); len(b) > 0 {
		var in exportRequest
		if err := edge.DecodeJSON(req, &in); err != nil {
			return 0, nil, err
		}
		if b[0] != '{' { // null decodes into a struct too
			return 0, nil, edge.NewError(http.StatusBadRequest, edge.CodeInvalidType, "body must be a JSON object")
		}
	}
	if err := h.entitled(ctx, features.Exports); err != nil { // 403 not_entitled (basic), nothing queued
		return 0, nil, err
	}
	if h.exports == nil {
		return 0, nil, errExportsOff
	}
	e, err := h.exports.Start(ctx, c.scope, req.RequestContext.RequestID)
	return http.StatusAccepted, e, err
}

func (h *Handler) getExport(ctx context.Context, c caller, req events.APIGatewayProxyRequest) (int, any, error) {
	if err := requireExportAdmin(c); err != nil {
		return 0, nil, err
	}
	id, err := edge.PathID(req)
	if err != nil {
		return 0, nil, err
	}
	if h.exports == nil {
		return 0, nil, errExportsOff
	}
	e, err := h.exports.Get(ctx, c.scope, id)
	return http.StatusOK, e, err
}
