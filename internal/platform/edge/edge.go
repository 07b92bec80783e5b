package edge

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/route"
)

// Endpoint serves one route for a caller of type C (the verified tenant user
// or operator), returning a status and a payload, or an error.
type Endpoint[C any] func(ctx context.Context, caller C, req events.APIGatewayProxyRequest) (int, any, error)

// Routes maps the route keys of one function to their endpoints.
type Routes[C any] map[string]Endpoint[C]

// NewRoutes binds every route that the route table gives function fn to the
// endpoint of the same name. A route without an endpoint is a programming
// error and panics (the tests build every handler).
func NewRoutes[C any](fn route.Function, byName map[string]Endpoint[C]) Routes[C] {
	rs := Routes[C]{}
	for _, r := range route.ForFunction(fn) {
		ep, ok := byName[r.Name]
		if !ok {
			panic("edge: route " + r.Name + " of function " + string(fn) + " has no endpoint")
		}
		rs[r.Key()] = ep
	}
	return rs
}

// RouteKey is the key API Gateway's REST proxy event names a route by.
func RouteKey(req events.APIGatewayProxyRequest) string { return req.HTTPMethod + " " + req.Resource }

// Find returns the endpoint of the route routeKey (RouteKey of the
// request), or a 404 route_not_found.
func (rs Routes[C]) Find(routeKey string) (Endpoint[C], error) {
	ep, ok := rs[routeKey]
	if !ok {
		return nil, NewError(http.StatusNotFound, CodeRouteNotFound, "no such route")
	}
	return ep, nil
}

// RequestLog is the logger of one request, with its request id and route.
func RequestLog(log *slog.Logger, requestID, routeKey string) *slog.Logger {
	return log.With("requestId", requestID, "route", routeKey)
}

// Finish turns a result or an error into the response, logging once.
func Finish(log *slog.Logger, start time.Time, status int, payload any, err error) events.APIGatewayProxyResponse {
	var answer *Error
	if err != nil {
		e, expected := classify(err)
		answer = e
		switch {
		case isIntegrity(err):
			log.Error("sealed field failed integrity check", "error", err.Error())
		case !expected:
			log.Error("request failed", "error", err.Error())
		}
		status = e.Status
		var b ErrorBody
		b.Error.Code, b.Error.Message = e.Code, e.Message
		payload = b
	}
	log.Info("request", "status", status, "latencyMs", time.Since(start).Milliseconds())
	resp := respond(status, payload)
	if v, ok := retryAfterHeader(answer); ok {
		resp.Headers["Retry-After"] = v
	}
	return resp
}

// retryAfterHeader is the Retry-After header of an answer that asks for
// one (classify's, so that an expected error such as store.ErrFenced gets
// its answer's header without being wrapped in it).
func retryAfterHeader(e *Error) (string, bool) {
	if e == nil || e.RetryAfter <= 0 {
		return "", false
	}
	return strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10), true
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
