package api

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/order"
)

// orderUpdate is the body of PUT /v1/orders/{id}: the full order and the
// version the client last read.
type orderUpdate struct {
	order.Input
	Version *int64 `json:"version"`
}

func (h *Handler) listOrders(ctx context.Context, req events.APIGatewayProxyRequest) (int, any, error) {
	pr, err := pageRequest(req)
	if err != nil {
		return 0, nil, err
	}
	page, err := h.data.ListOrders(ctx, pr)
	return http.StatusOK, page, err
}

func (h *Handler) createOrder(ctx context.Context, req events.APIGatewayProxyRequest) (int, any, error) {
	var in order.Input
	if err := decodeJSON(req, &in); err != nil {
		return 0, nil, err
	}
	in, err := in.Validate()
	if err != nil {
		return 0, nil, err
	}
	o, err := h.data.CreateOrder(ctx, in)
	return http.StatusCreated, o, err
}

func (h *Handler) getOrder(ctx context.Context, req events.APIGatewayProxyRequest) (int, any, error) {
	id, err := pathID(req)
	if err != nil {
		return 0, nil, err
	}
	o, err := h.data.GetOrder(ctx, id)
	return http.StatusOK, o, err
}

func (h *Handler) updateOrder(ctx context.Context, req events.APIGatewayProxyRequest) (int, any, error) {
	id, err := pathID(req)
	if err != nil {
		return 0, nil, err
	}
	var in orderUpdate
	if err := decodeJSON(req, &in); err != nil {
		return 0, nil, err
	}
	if in.Version == nil {
		return 0, nil, newError(http.StatusBadRequest, CodeValidation, "version is required: send the version you last read")
	}
	valid, err := in.Input.Validate()
	if err != nil {
		return 0, nil, err
	}
	o, err := h.data.UpdateOrder(ctx, id, *in.Version, valid)
	return http.StatusOK, o, err
}

func (h *Handler) deleteOrder(ctx context.Context, req events.APIGatewayProxyRequest) (int, any, error) {
	id, err := pathID(req)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, h.data.DeleteOrder(ctx, id)
}
