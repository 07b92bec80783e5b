package api

import (
	"bytes"
	"context"
	"errors"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/export"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// Exports starts and reads the caller's tenant's data exports
// (internal/app/exporter).
type Exports interface {
	Start(ctx context.Context, requestID string) (export.Export, error)
	Get(ctx context.Context, id string) (export.Export, error)
}

// WithExports turns on the export routes; without it they answer 500.
func (h *Handler) WithExports(e Exports) *Handler {
	h.exports = e
	return h
}

// errExportsOff is a wiring error: the handler was built without exports.
var errExportsOff = errors.New("api: exports are not wired")

// requireExportAdmin lets only the tenant's admins export its data: an
// export holds every customer's decrypted details.
func requireExportAdmin(ctx context.Context) error {
	t, ok := tenant.FromContext(ctx)
	if !ok {
		return tenant.ErrUnauthenticated
	}
	if !t.IsAdmin() {
		return newError(http.StatusForbidden, CodeForbidden, "only the tenant's admins may export its data")
	}
	return nil
}

// exportRequest is the body of POST /v1/exports: nothing yet (an export is
// always of all the tenant's data). An empty body or {} is accepted; any
// field is unknown.
type exportRequest struct{}

// createExport queues an export of the caller's tenant: 202 with the QUEUED
// record.
func (h *Handler) createExport(ctx context.Context, req events.APIGatewayProxyRequest) (int, any, error) {
	if err := requireExportAdmin(ctx); err != nil {
		return 0, nil, err
	}
	b, err := body(req)
	if err != nil {
		return 0, nil, err
	}
	if b = bytes.TrimSpace(b); len(b) > 0 {
		var in exportRequest
		if err := decodeJSON(req, &in); err != nil {
			return 0, nil, err
		}
		if b[0] != '{' { // null decodes into a struct too
			return 0, nil, newError(http.StatusBadRequest, CodeInvalidType, "body must be a JSON object")
		}
	}
	if h.exports == nil {
		return 0, nil, errExportsOff
	}
	e, err := h.exports.Start(ctx, req.RequestContext.RequestID)
	return http.StatusAccepted, e, err
}

func (h *Handler) getExport(ctx context.Context, req events.APIGatewayProxyRequest) (int, any, error) {
	if err := requireExportAdmin(ctx); err != nil {
		return 0, nil, err
	}
	id, err := pathID(req)
	if err != nil {
		return 0, nil, err
	}
	if h.exports == nil {
		return 0, nil, errExportsOff
	}
	e, err := h.exports.Get(ctx, id)
	return http.StatusOK, e, err
}
