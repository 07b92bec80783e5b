package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/metering"
	"github.com/tessera-saas/tessera/internal/platform/order"
	"github.com/tessera-saas/tessera/internal/platform/product"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// Tenants looks up tenant records (a catalog.Cache in production).
type Tenants interface {
	Get(ctx context.Context, tenantID string) (catalog.Record, error)
}

// Data is the tenant-scoped store the handlers use.
type Data interface {
	CreateProduct(ctx context.Context, in product.Input) (product.Product, error)
	GetProduct(ctx context.Context, id string) (product.Product, error)
	ListProducts(ctx context.Context, req store.PageRequest) (store.Page[product.Product], error)
	UpdateProduct(ctx context.Context, id string, version int64, in product.Input) (product.Product, error)
	DeleteProduct(ctx context.Context, id string) error
	CreateOrder(ctx context.Context, in order.Input) (order.Order, error)
	GetOrder(ctx context.Context, id string) (order.Order, error)
	ListOrders(ctx context.Context, req store.PageRequest) (store.Page[order.Order], error)
	UpdateOrder(ctx context.Context, id string, version int64, in order.Input) (order.Order, error)
	DeleteOrder(ctx context.Context, id string) error
	PutUser(ctx context.Context, u store.UserRecord) error
	ListUsers(ctx context.Context, req store.PageRequest) (store.Page[store.UserRecord], error)
}

// Handler serves the tenant app routes of functions/api.
type Handler struct {
	tenants Tenants
	data    Data
	users   Users
	log     *slog.Logger
	routes  map[string]endpoint
	meters  *Metering
	exports Exports
}

type endpoint func(ctx context.Context, req events.APIGatewayProxyRequest) (int, any, error)

// New returns the handler. It makes no AWS call.
func New(tenants Tenants, data Data, users Users, log *slog.Logger) *Handler {
	h := &Handler{tenants: tenants, data: data, users: users, log: log}
	byName := map[string]endpoint{
		"ListProducts": h.listProducts, "CreateProduct": h.createProduct, "GetProduct": h.getProduct,
		"UpdateProduct": h.updateProduct, "DeleteProduct": h.deleteProduct,
		"ListOrders": h.listOrders, "CreateOrder": h.createOrder, "GetOrder": h.getOrder,
		"UpdateOrder": h.updateOrder, "DeleteOrder": h.deleteOrder,
		"ListUsers": h.listUsers, "CreateUser": h.createUser,
		"CreateExport": h.createExport, "GetExport": h.getExport,
	}
	h.routes = map[string]endpoint{}
	for _, r := range route.ForFunction(route.FunctionAPI) {
		ep, ok := byName[r.Name]
		if !ok {
			panic("api: route " + r.Name + " has no endpoint") // a programming error, caught by tests
		}
		h.routes[r.Key()] = ep
	}
	return h
}

// Handle is the Lambda entry point.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	start := time.Now()
	routeKey := req.HTTPMethod + " " + req.Resource
	log := h.log.With("requestId", req.RequestContext.RequestID, "route", routeKey)

	var meter *metering.Meter
	status, payload, err := h.serve(ctx, req, routeKey, start, &log, &meter)
	resp := finish(log, start, status, payload, err)
	h.meterRequest(ctx, log, meter, routeKey, start, resp.StatusCode, req.RequestContext.RequestID)
	return resp, nil
}

func (h *Handler) serve(ctx context.Context, req events.APIGatewayProxyRequest, routeKey string, start time.Time, log **slog.Logger, meter **metering.Meter) (int, any, error) {
	ep, ok := h.routes[routeKey]
	if !ok {
		return 0, nil, newError(http.StatusNotFound, CodeRouteNotFound, "no such route")
	}
	t, err := tenant.FromRESTRequest(req)
	if err != nil {
		return 0, nil, err
	}
	*log = (*log).With("tenantId", t.ID)
	rec, err := h.tenants.Get(ctx, t.ID)
	if err != nil {
		return 0, nil, err
	}
	*meter = metering.Start(t.ID, rec.Tier, routeKey, start)
	if err := rec.Usable(); err != nil {
		return 0, nil, err
	}
	ctx = metering.NewContext(catalog.NewContext(tenant.NewContext(ctx, t), rec), *meter)
	return ep(ctx, req)
}

func respond(status int, payload any) events.APIGatewayProxyResponse {
	resp := events.APIGatewayProxyResponse{StatusCode: status, Headers: map[string]string{
		"Content-Type":           "application/json",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	}}
	if status == http.StatusNoContent || payload == nil {
		delete(resp.Headers, "Content-Type")
		return resp
	}
	b, err := json.Marshal(payload)
	if err != nil { // our own types only: cannot fail
		return events.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError,
			Headers: map[string]string{"Content-Type": "application/json"},
			Body:    `{"error":{"code":"internal","message":"internal error"}}`}
	}
	resp.Body = string(b)
	return resp
}
