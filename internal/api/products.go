package api

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/product"
)

// productUpdate is the body of PUT /v1/products/{id}: the full product and
// the version the client last read.
type productUpdate struct {
	product.Input
	Version *int64 `json:"version"`
}

func (h *Handler) listProducts(ctx context.Context, req events.APIGatewayProxyRequest) (int, any, error) {
	pr, err := pageRequest(req)
	if err != nil {
		return 0, nil, err
	}
	page, err := h.data.ListProducts(ctx, pr)
	return http.StatusOK, page, err
}

func (h *Handler) createProduct(ctx context.Context, req events.APIGatewayProxyRequest) (int, any, error) {
	var in product.Input
	if err := decodeJSON(req, &in); err != nil {
		return 0, nil, err
	}
	in, err := in.Validate()
	if err != nil {
		return 0, nil, err
	}
	p, err := h.data.CreateProduct(ctx, in)
	return http.StatusCreated, p, err
}

func (h *Handler) getProduct(ctx context.Context, req events.APIGatewayProxyRequest) (int, any, error) {
	id, err := pathID(req)
	if err != nil {
		return 0, nil, err
	}
	p, err := h.data.GetProduct(ctx, id)
	return http.StatusOK, p, err
}

func (h *Handler) updateProduct(ctx context.Context, req events.APIGatewayProxyRequest) (int, any, error) {
	id, err := pathID(req)
	if err != nil {
		return 0, nil, err
	}
	var in productUpdate
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
	p, err := h.data.UpdateProduct(ctx, id, *in.Version, valid)
	return http.StatusOK, p, err
}

func (h *Handler) deleteProduct(ctx context.Context, req events.APIGatewayProxyRequest) (int, any, error) {
	id, err := pathID(req)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, h.data.DeleteProduct(ctx, id)
}
