package tenantapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"

	"github.com/aws/aws-lambda-go/events"
)

// WithOpenAPI serves the API's OpenAPI document at GET /v1/openapi.json, to
// anyone (the route is public). doc builds it (internal/wire/openapi); it
// runs once, on the first request, not at cold start.
func (h *Handler) WithOpenAPI(doc func() ([]byte, error)) *Handler {
	h.openapi = sync.OnceValues(func() (json.RawMessage, error) {
		b, err := doc()
		if err != nil {
			return nil, err
		}
		if !json.Valid(b) {
			return nil, errors.New("tenantapi: the OpenAPI document is not JSON")
		}
		return json.RawMessage(b), nil
	})
	return h
}

// errOpenAPIOff is a wiring error: the handler was built without the
// document.
var errOpenAPIOff = errors.New("tenantapi: the OpenAPI document is not wired")

// getOpenAPI answers the document. It has no caller: the route is public.
func (h *Handler) getOpenAPI(context.Context, caller, events.APIGatewayProxyRequest) (int, any, error) {
	if h.openapi == nil {
		return 0, nil, errOpenAPIOff
	}
	doc, err := h.openapi()
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, doc, nil
}
