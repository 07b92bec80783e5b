package cellrouter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/control/operatorapi"
	"github.com/tessera-saas/tessera/internal/platform/cell"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// Directory records each tenant's cell (store.Directory).
type Directory interface {
	Place(ctx context.Context, req store.PlaceRequest) (store.Placement, bool, error)
	Lookup(ctx context.Context, tenantID string) (store.Placement, error)
	Unplace(ctx context.Context, p store.Placement, idempotencyKey string) error
	Counts(ctx context.Context, cells []cell.ID) (map[cell.ID]int, error)
}

// Limits of what the router forwards.
const (
	// ForwardTimeout bounds one forwarded request (API Gateway gives the
	// router 29 s in all).
	ForwardTimeout = 10 * time.Second
	// MaxAnswerBytes bounds a cell's answer (Lambda's response limit).
	MaxAnswerBytes = 6 << 20
)

// Handler serves the router API (functions/router).
type Handler struct {
	dir    Directory
	cells  cell.Map
	client *http.Client
	tokens tenant.Verifier
	log    *slog.Logger
	newID  func() string
	routes map[string]func(ctx context.Context, req events.APIGatewayProxyRequest) (answer, error)
}

// answer is a response: either a payload of the router's own, or a cell's
// answer passed through as it came.
type answer struct {
	status int
	body   any
	raw    []byte // a cell's body
	ctype  string
}

// New returns the router. It makes no AWS call. client forwards requests to
// the cells (nil: one with ForwardTimeout).
func New(dir Directory, cells cell.Map, tokens tenant.Verifier, client *http.Client, log *slog.Logger) *Handler {
	if client == nil {
		client = &http.Client{Timeout: ForwardTimeout}
	}
	h := &Handler{dir: dir, cells: cells, client: client, tokens: tokens, log: log, newID: tenant.NewID}
	own := map[string]func(context.Context, events.APIGatewayProxyRequest) (answer, error){
		"ListCells": h.listCells, "GetPlacement": h.getPlacement,
		"CreateTenant": h.create, "ListTenants": h.listTenants,
	}
	h.routes = map[string]func(context.Context, events.APIGatewayProxyRequest) (answer, error){}
	for _, r := range route.ForFunction(route.FunctionRouter) {
		if ep, ok := own[r.Name]; ok {
			h.routes[r.Key()] = ep
		} else {
			h.routes[r.Key()] = h.forwardByTenant // every other operator route names {id}
		}
	}
	return h
}

// WithIDs replaces tenant.NewID as the source of new tenant ids (a test
// that needs to know where its tenants land).
func (h *Handler) WithIDs(newID func() string) *Handler {
	h.newID = newID
	return h
}

// Handle is the Lambda entry point of the router API.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	start := time.Now()
	routeKey := edge.RouteKey(req)
	log := edge.RequestLog(h.log, req.RequestContext.RequestID, routeKey)
	ans, err := func() (answer, error) {
		ep, ok := h.routes[routeKey]
		if !ok {
			return answer{}, edge.NewError(http.StatusNotFound, edge.CodeRouteNotFound, "no such route")
		}
		rt, _ := route.ByKeyIn(route.Router, routeKey)
		switch rt.Audience {
		case route.Operator:
			op, err := tenant.AuthenticateOperator(ctx, h.tokens, req)
			if err != nil {
				return answer{}, err
			}
			log = log.With("operator", op.UserID)
			ctx = withOperator(ctx, op)
		case route.TenantUser:
			t, err := tenant.Authenticate(ctx, h.tokens, req)
			if err != nil {
				return answer{}, err
			}
			log = log.With("tenantId", t.ID)
			ctx = withTenant(ctx, t)
		}
		return ep(ctx, req)
	}()
	if err == nil && ans.raw != nil {
		log.Info("request", "status", ans.status, "latencyMs", time.Since(start).Milliseconds())
		resp := events.APIGatewayProxyResponse{StatusCode: ans.status, Body: string(ans.raw), Headers: map[string]string{
			"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}}
		if ans.ctype != "" {
			resp.Headers["Content-Type"] = ans.ctype
		}
		return resp, nil
	}
	return edge.Finish(log, start, ans.status, ans.body, err), nil
}

type ctxKey int

const (
	operatorKey ctxKey = iota
	tenantKey
)

func withOperator(ctx context.Context, op tenant.Operator) context.Context {
	return context.WithValue(ctx, operatorKey, op)
}
func withTenant(ctx context.Context, t tenant.Tenant) context.Context {
	return context.WithValue(ctx, tenantKey, t)
}
func operatorOf(ctx context.Context) tenant.Operator {
	op, _ := ctx.Value(operatorKey).(tenant.Operator)
	return op
}
func tenantOf(ctx context.Context) tenant.Tenant {
	t, _ := ctx.Value(tenantKey).(tenant.Tenant)
	return t
}

// CellView is one cell as GET /v1/cells shows it.
type CellView struct {
	ID       cell.ID `json:"id"`
	Account  string  `json:"account,omitempty"`
	Region   string  `json:"region,omitempty"`
	API      string  `json:"apiUrl"`
	Open     bool    `json:"open"`
	Capacity int     `json:"capacity"`
	Tenants  int     `json:"tenants"`
}

func (h *Handler) listCells(ctx context.Context, _ events.APIGatewayProxyRequest) (answer, error) {
	cs := h.cells.Cells()
	ids := make([]cell.ID, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	counts, err := h.dir.Counts(ctx, ids)
	if err != nil {
		return answer{}, err
	}
	out := cellList{Items: make([]CellView, 0, len(cs))}
	for _, c := range cs {
		out.Items = append(out.Items, CellView{ID: c.ID, Account: c.Account, Region: c.Region, API: c.API,
			Open: c.Open, Capacity: c.Limit(), Tenants: counts[c.ID]})
	}
	return answer{status: http.StatusOK, body: out}, nil
}

// PlacementView is a tenant's cell and the API that serves it.
type PlacementView struct {
	TenantID string  `json:"tenantId"`
	Cell     cell.ID `json:"cell"`
	API      string  `json:"apiUrl"`
}

func (h *Handler) getPlacement(ctx context.Context, _ events.APIGatewayProxyRequest) (answer, error) {
	t := tenantOf(ctx)
	p, err := h.dir.Lookup(ctx, t.ID)
	if errors.Is(err, store.ErrNotFound) {
		return answer{}, edge.NewError(http.StatusNotFound, edge.CodeNotFound, "your tenant has no cell")
	}
	if err != nil {
		return answer{}, err
	}
	c, ok := h.cells.Get(p.Cell)
	if !ok {
		return answer{}, fmt.Errorf("tenant %s is placed in cell %s, which the cell map does not have", t.ID, p.Cell)
	}
	return answer{status: http.StatusOK, body: PlacementView{TenantID: t.ID, Cell: p.Cell, API: c.API}}, nil
}

// create places a new tenant in a cell, then asks that cell to onboard it.
// Bad input is refused before anything is written. A cell that refuses the
// create (4xx: nothing was made there) has its placement taken back; a cell
// that does not answer keeps it, so that a retry with the same
// Idempotency-Key reaches the same cell with the same tenant id.
func (h *Handler) create(ctx context.Context, req events.APIGatewayProxyRequest) (answer, error) {
	hasID, err := operatorapi.CheckCreate(req)
	if err != nil {
		return answer{}, err
	}
	if hasID {
		return answer{}, edge.NewError(http.StatusBadRequest, edge.CodeValidation, "tenantId is chosen by the router: leave it out")
	}
	op := operatorOf(ctx)
	idemKey := edge.Header(req, "Idempotency-Key")
	id := h.newID()
	limits := map[cell.ID]int{}
	for _, c := range h.cells.Cells() {
		limits[c.ID] = c.Limit()
	}
	p, replayed, err := h.dir.Place(ctx, store.PlaceRequest{TenantID: id, Candidates: h.cells.Candidates(id), Limits: limits,
		Actor: op.UserID, IdempotencyKey: idemKey})
	if errors.Is(err, store.ErrCellsFull) {
		return answer{}, edge.NewError(http.StatusServiceUnavailable, edge.CodeCellsFull, "every open cell is full: an operator must open a cell")
	}
	if err != nil {
		return answer{}, err
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal([]byte(req.Body), &body); err != nil { // CheckCreate decoded it already
		return answer{}, fmt.Errorf("re-read create body: %w", err)
	}
	idJSON, _ := json.Marshal(p.TenantID)
	body["tenantId"] = idJSON
	fwd, _ := json.Marshal(body)
	ans, err := h.forward(ctx, p.Cell, req, "/v1/tenants", nil, fwd)
	if err != nil {
		h.log.Warn("cell did not answer a create; the placement is kept for a retry", "tenantId", p.TenantID, "cell", p.Cell, "error", err.Error())
		return answer{}, edge.NewError(http.StatusBadGateway, edge.CodeCellUnavailable,
			fmt.Sprintf("cell %s did not answer; tenant %s is placed there: retry with the same Idempotency-Key", p.Cell, p.TenantID))
	}
	if ans.status >= 400 && ans.status < 500 && !replayed {
		if err := h.dir.Unplace(ctx, p, idemKey); err != nil {
			h.log.Error("cell refused a create and its placement could not be taken back", "tenantId", p.TenantID, "cell", p.Cell, "error", err.Error())
		}
	}
	return ans, nil
}

// listTenants forwards a list to the cell that ?cell= names: each cell lists
// its own tenants.
func (h *Handler) listTenants(ctx context.Context, req events.APIGatewayProxyRequest) (answer, error) {
	q := url.Values{}
	for k, v := range req.QueryStringParameters {
		q.Set(k, v)
	}
	id := cell.ID(q.Get("cell"))
	if id == "" {
		return answer{}, edge.NewError(http.StatusBadRequest, edge.CodeCellRequired, "name the cell to list: ?cell=c1 (GET /v1/cells lists them)")
	}
	if _, ok := h.cells.Get(id); !ok {
		return answer{}, edge.NewError(http.StatusBadRequest, edge.CodeValidation, "no such cell: "+string(id))
	}
	q.Del("cell")
	return h.forwardOrFail(ctx, id, req, "/v1/tenants", q, []byte(req.Body))
}

// forwardByTenant forwards a request about tenant {id} to its cell.
func (h *Handler) forwardByTenant(ctx context.Context, req events.APIGatewayProxyRequest) (answer, error) {
	id := req.PathParameters["id"]
	if !tenant.ValidID(id) {
		return answer{}, edge.NewError(http.StatusBadRequest, edge.CodeInvalidID, "invalid tenant id")
	}
	p, err := h.dir.Lookup(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return answer{}, edge.NewError(http.StatusNotFound, edge.CodeNotFound, "no such tenant")
	}
	if err != nil {
		return answer{}, err
	}
	q := url.Values{}
	for k, v := range req.QueryStringParameters {
		q.Set(k, v)
	}
	rest := strings.TrimPrefix(req.Resource, "/v1/tenants/{id}")
	return h.forwardOrFail(ctx, p.Cell, req, "/v1/tenants/"+url.PathEscape(id)+rest, q, []byte(req.Body))
}

func (h *Handler) forwardOrFail(ctx context.Context, id cell.ID, req events.APIGatewayProxyRequest, path string, q url.Values, body []byte) (answer, error) {
	ans, err := h.forward(ctx, id, req, path, q, body)
	if err != nil {
		h.log.Warn("cell did not answer", "cell", id, "error", err.Error())
		return answer{}, edge.NewError(http.StatusBadGateway, edge.CodeCellUnavailable, fmt.Sprintf("cell %s did not answer; retry", id))
	}
	return ans, nil
}

// forwarded are the request headers a cell needs.
var forwarded = []string{"Authorization", "Content-Type", "Idempotency-Key", "X-Correlation-Id"}

// forward sends the request to the cell and returns its answer. A transport
// failure or a 5xx answer is an error: the cell's state is unknown.
func (h *Handler) forward(ctx context.Context, id cell.ID, req events.APIGatewayProxyRequest, path string, q url.Values, body []byte) (answer, error) {
	c, ok := h.cells.Get(id)
	if !ok {
		return answer{}, fmt.Errorf("cell %s is not in the cell map", id)
	}
	u := strings.TrimRight(c.API, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.HTTPMethod, u, rd)
	if err != nil {
		return answer{}, fmt.Errorf("forward to cell %s: %w", id, err)
	}
	for _, name := range forwarded {
		if v := edge.Header(req, name); v != "" {
			hreq.Header.Set(name, v)
		}
	}
	if hreq.Header.Get("X-Correlation-Id") == "" && req.RequestContext.RequestID != "" {
		hreq.Header.Set("X-Correlation-Id", req.RequestContext.RequestID)
	}
	resp, err := h.client.Do(hreq)
	if err != nil {
		return answer{}, fmt.Errorf("forward to cell %s: %w", id, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes+1))
	if err != nil {
		return answer{}, fmt.Errorf("read answer of cell %s: %w", id, err)
	}
	if len(raw) > MaxAnswerBytes {
		return answer{}, fmt.Errorf("answer of cell %s is over %d bytes", id, MaxAnswerBytes)
	}
	if resp.StatusCode >= 500 {
		return answer{}, fmt.Errorf("cell %s answered %d", id, resp.StatusCode)
	}
	if raw == nil {
		raw = []byte{}
	}
	return answer{status: resp.StatusCode, raw: raw, ctype: resp.Header.Get("Content-Type")}, nil
}
