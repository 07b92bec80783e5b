package tenantapi

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/order"
	"github.com/tessera-saas/tessera/internal/platform/product"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// input is a create or update body that validates (and normalises) itself.
type input[I any] interface {
	Validate() (I, error)
}

// versioned is an update body: the full input and the version the client
// last read.
type versioned[I any] interface {
	fields() (I, *int64)
}

// entity is the CRUD routes of one kind of tenant entity, over the store's
// methods of that kind. U is the update body type.
type entity[I input[I], U versioned[I], T any] struct {
	storeList   func(store.TenantData, context.Context, store.PageRequest) (store.Page[T], error)
	storeCreate func(store.TenantData, context.Context, I) (T, error)
	storeGet    func(store.TenantData, context.Context, string) (T, error)
	storeUpdate func(store.TenantData, context.Context, string, int64, I) (T, error)
	storeDelete func(store.TenantData, context.Context, string) error
	// allowCreate, when set, refuses a valid create before it is written
	// (an entitlement: features.ErrLimitReached).
	allowCreate func(context.Context, caller) error
}

// productUpdate is the body of PUT /v1/products/{id}.
type productUpdate struct {
	product.Input
	Version *int64 `json:"version" required:"true"`
}

func (u productUpdate) fields() (product.Input, *int64) { return u.Input, u.Version }

// orderUpdate is the body of PUT /v1/orders/{id}.
type orderUpdate struct {
	order.Input
	Version *int64 `json:"version" required:"true"`
}

func (u orderUpdate) fields() (order.Input, *int64) { return u.Input, u.Version }

var (
	products = entity[product.Input, productUpdate, product.Product]{
		storeList: store.TenantData.ListProducts, storeCreate: store.TenantData.CreateProduct, storeGet: store.TenantData.GetProduct,
		storeUpdate: store.TenantData.UpdateProduct, storeDelete: store.TenantData.DeleteProduct,
	}
	orders = entity[order.Input, orderUpdate, order.Order]{
		storeList: store.TenantData.ListOrders, storeCreate: store.TenantData.CreateOrder, storeGet: store.TenantData.GetOrder,
		storeUpdate: store.TenantData.UpdateOrder, storeDelete: store.TenantData.DeleteOrder,
	}
)

func (e entity[I, U, T]) list(ctx context.Context, c caller, req events.APIGatewayProxyRequest) (int, any, error) {
	pr, err := edge.PageRequest(req)
	if err != nil {
		return 0, nil, err
	}
	page, err := e.storeList(c.data, ctx, pr)
	return http.StatusOK, page, err
}

func (e entity[I, U, T]) create(ctx context.Context, c caller, req events.APIGatewayProxyRequest) (int, any, error) {
	var in I
	if err := edge.DecodeJSON(req, &in); err != nil {
		return 0, nil, err
	}
	in, err := in.Validate()
	if err != nil {
		return 0, nil, err
	}
	if e.allowCreate != nil {
		if err := e.allowCreate(ctx, c); err != nil {
			return 0, nil, err
		}
	}
	v, err := e.storeCreate(c.data, ctx, in)
	return http.StatusCreated, v, err
}

func (e entity[I, U, T]) get(ctx context.Context, c caller, req events.APIGatewayProxyRequest) (int, any, error) {
	id, err := edge.PathID(req)
	if err != nil {
		return 0, nil, err
	}
	v, err := e.storeGet(c.data, ctx, id)
	return http.StatusOK, v, err
}

func (e entity[I, U, T]) update(ctx context.Context, c caller, req events.APIGatewayProxyRequest) (int, any, error) {
	id, err := edge.PathID(req)
	if err != nil {
		return 0, nil, err
	}
	var body U
	if err := edge.DecodeJSON(req, &body); err != nil {
		return 0, nil, err
	}
	in, version := body.fields()
	if version == nil {
		return 0, nil, edge.NewError(http.StatusBadRequest, edge.CodeValidation, "version is required: send the version you last read")
	}
	valid, err := in.Validate()
	if err != nil {
		return 0, nil, err
	}
	v, err := e.storeUpdate(c.data, ctx, id, *version, valid)
	return http.StatusOK, v, err
}

func (e entity[I, U, T]) delete(ctx context.Context, c caller, req events.APIGatewayProxyRequest) (int, any, error) {
	id, err := edge.PathID(req)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, e.storeDelete(c.data, ctx, id)
}
