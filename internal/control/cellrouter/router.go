package cellrouter

import (
	"bytes"
	"context"
	"encoding/json"
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
	limits map[cell.ID]int // each cell's Limit, from the map
	client *http.Client
	tokens tenant.Verifier
	log    *slog.Logger
	newID  func() string
	routes edge.Routes[caller]
	// audience is who may call each route (its key): the router's routes
	// are the operator's and, for GetPlacement, any signed-in user's.
	audience map[string]route.Audience
}

// caller is the verified identity of a request: the operator on operator
// routes, the user on tenant users' routes.
type caller struct {
	op   tenant.Operator
	user tenant.Tenant
}

// passthrough is a cell's answer, handed back as it came.
type passthrough struct {
	body  []byte
	ctype string
}

// New returns the router. It makes no AWS call. client forwards requests to
// the cells (nil: one with ForwardTimeout).
func New(dir Directory, cells cell.Map, tokens tenant.Verifier, client *http.Client, log *slog.Logger) *Handler {
	if client == nil {
		client = &http.Client{Timeout: ForwardTimeout}
	}
	h := &Handler{dir: dir, cells: cells, limits: map[cell.ID]int{}, client: client, tokens: tokens, log: log,
		newID: tenant.NewID, audience: map[string]route.Audience{}}
	for _, c := range cells.Cells() {
		h.limits[c.ID] = c.Limit()
	}
	byName := map[string]edge.Endpoint[caller]{}
	for _, r := range route.ForFunction(route.FunctionRouter) {
		byName[r.Name] = h.forwardByTenant // every operator route but these names {id}
		h.audience[r.Key()] = r.Audience
	}
	byName["ListCells"], byName["GetPlacement"] = h.listCells, h.getPlacement
	byName["CreateTenant"], byName["ListTenants"] = h.create, h.listTenants
	// Flag definitions are each cell's own (its catalog): ?cell= names it.
	byName["ListFlags"], byName["PutFlag"] = h.forwardByCell, h.forwardByCell
	h.routes = edge.NewRoutes(route.FunctionRouter, byName)
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
	status, payload, err := func() (int, any, error) {
		ep, err := h.routes.Find(routeKey)
		if err != nil {
			return 0, nil, err
		}
		var c caller
		switch h.audience[routeKey] {
		case route.Operator:
			if c.op, err = tenant.AuthenticateOperator(ctx, h.tokens, req); err != nil {
				return 0, nil, err
			}
			log = log.With("operator", c.op.UserID)
		case route.TenantUser:
			if c.user, err = tenant.Authenticate(ctx, h.tokens, req); err != nil {
				return 0, nil, err
			}
			log = log.With("tenantId", c.user.ID)
		}
		return ep(ctx, c, req)
	}()
	if p, ok := payload.(passthrough); ok && err == nil {
		log.Info("request", "status", status, "latencyMs", time.Since(start).Milliseconds())
		resp := events.APIGatewayProxyResponse{StatusCode: status, Body: string(p.body), Headers: map[string]string{
			"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}}
		if p.ctype != "" {
			resp.Headers["Content-Type"] = p.ctype
		}
		return resp, nil
	}
	return edge.Finish(log, start, status, payload, err), nil
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

func (h *Handler) listCells(ctx context.Context, _ caller, _ events.APIGatewayProxyRequest) (int, any, error) {
	cs := h.cells.Cells()
	ids := make([]cell.ID, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	counts, err := h.dir.Counts(ctx, ids)
	if err != nil {
		return 0, nil, err
	}
	out := cellList{Items: make([]CellView, 0, len(cs))}
	for _, c := range cs {
		out.Items = append(out.Items, CellView{ID: c.ID, Account: c.Account, Region: c.Region, API: c.API,
			Open: c.Open, Capacity: c.Limit(), Tenants: counts[c.ID]})
	}
	return http.StatusOK, out, nil
}

// PlacementView is a tenant's cell and the API that serves it.
type PlacementView struct {
	TenantID string  `json:"tenantId"`
	Cell     cell.ID `json:"cell"`
	API      string  `json:"apiUrl"`
}

func (h *Handler) getPlacement(ctx context.Context, who caller, _ events.APIGatewayProxyRequest) (int, any, error) {
	p, err := h.dir.Lookup(ctx, who.user.ID) // store.ErrNotFound: 404 not_found
	if err != nil {
		return 0, nil, err
	}
	c, ok := h.cells.Get(p.Cell)
	if !ok {
		return 0, nil, fmt.Errorf("tenant %s is placed in cell %s, which the cell map does not have", who.user.ID, p.Cell)
	}
	return http.StatusOK, PlacementView{TenantID: who.user.ID, Cell: p.Cell, API: c.API}, nil
}

// create places a new tenant in a cell, then asks that cell to onboard it.
// Bad input is refused before anything is written. A cell that refuses the
// create (4xx: nothing was made there) has its placement taken back; a cell
// that does not answer keeps it, so that a retry with the same
// Idempotency-Key reaches the same cell with the same tenant id.
func (h *Handler) create(ctx context.Context, who caller, req events.APIGatewayProxyRequest) (int, any, error) {
	hasID, err := operatorapi.CheckCreate(req)
	if err != nil {
		return 0, nil, err
	}
	if hasID {
		return 0, nil, edge.NewError(http.StatusBadRequest, edge.CodeValidation, "tenantId is chosen by the router: leave it out")
	}
	idemKey := edge.Header(req, "Idempotency-Key")
	id := h.newID()
	p, replayed, err := h.dir.Place(ctx, store.PlaceRequest{TenantID: id, Candidates: h.cells.Candidates(id), Limits: h.limits,
		Actor: who.op.UserID, IdempotencyKey: idemKey}) // store.ErrCellsFull: 503 cells_full
	if err != nil {
		return 0, nil, err
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal([]byte(req.Body), &body); err != nil { // CheckCreate decoded it already
		return 0, nil, fmt.Errorf("re-read create body: %w", err)
	}
	idJSON, _ := json.Marshal(p.TenantID)
	body["tenantId"] = idJSON
	fwd, _ := json.Marshal(body)
	status, ans, err := h.forward(ctx, p.Cell, req, "/v1/tenants", nil, fwd)
	if err != nil {
		h.log.Warn("cell did not answer a create; the placement is kept for a retry", "tenantId", p.TenantID, "cell", p.Cell, "error", err.Error())
		return 0, nil, edge.NewError(http.StatusBadGateway, edge.CodeCellUnavailable,
			fmt.Sprintf("cell %s did not answer; tenant %s is placed there: retry with the same Idempotency-Key", p.Cell, p.TenantID))
	}
	if status >= 400 && status < 500 && !replayed {
		if err := h.dir.Unplace(ctx, p, idemKey); err != nil {
			h.log.Error("cell refused a create and its placement could not be taken back", "tenantId", p.TenantID, "cell", p.Cell, "error", err.Error())
		}
	}
	return status, ans, nil
}

// listTenants forwards a list to the cell that ?cell= names: each cell lists
// its own tenants.
func (h *Handler) listTenants(ctx context.Context, _ caller, req events.APIGatewayProxyRequest) (int, any, error) {
	q := query(req)
	id := cell.ID(q.Get("cell"))
	if id == "" {
		return 0, nil, edge.NewError(http.StatusBadRequest, edge.CodeCellRequired, "name the cell to list: ?cell=c1 (GET /v1/cells lists them)")
	}
	if _, ok := h.cells.Get(id); !ok {
		return 0, nil, edge.NewError(http.StatusBadRequest, edge.CodeValidation, "no such cell: "+string(id))
	}
	q.Del("cell")
	return h.forwardOrFail(ctx, id, req, "/v1/tenants", q)
}

// forwardByCell forwards a request that names no tenant to the cell that
// ?cell= names (the feature flag definitions of that cell).
func (h *Handler) forwardByCell(ctx context.Context, _ caller, req events.APIGatewayProxyRequest) (int, any, error) {
	q := query(req)
	id := cell.ID(q.Get("cell"))
	if id == "" {
		return 0, nil, edge.NewError(http.StatusBadRequest, edge.CodeCellRequired, "name the cell: ?cell=c1 (GET /v1/cells lists them)")
	}
	if _, ok := h.cells.Get(id); !ok {
		return 0, nil, edge.NewError(http.StatusBadRequest, edge.CodeValidation, "no such cell: "+string(id))
	}
	q.Del("cell")
	return h.forwardOrFail(ctx, id, req, fillPath(req.Resource, req.PathParameters), q)
}

// query is the request's query string, to forward.
func query(req events.APIGatewayProxyRequest) url.Values {
	q := url.Values{}
	for k, v := range req.QueryStringParameters {
		q.Set(k, v)
	}
	return q
}

// forwardByTenant forwards a request about tenant {id} to its cell.
func (h *Handler) forwardByTenant(ctx context.Context, _ caller, req events.APIGatewayProxyRequest) (int, any, error) {
	id := req.PathParameters["id"]
	if !tenant.ValidID(id) {
		return 0, nil, edge.NewError(http.StatusBadRequest, edge.CodeInvalidID, "invalid tenant id")
	}
	p, err := h.dir.Lookup(ctx, id) // store.ErrNotFound: 404 not_found
	if err != nil {
		return 0, nil, err
	}
	return h.forwardOrFail(ctx, p.Cell, req, fillPath(req.Resource, req.PathParameters), query(req))
}

// fillPath is the path of a route template with each {name} replaced by its
// path parameter, escaped (so "/v1/tenants/{id}/jobs/{jobId}" reaches the
// cell with both ids).
func fillPath(template string, params map[string]string) string {
	var b strings.Builder
	for {
		open := strings.IndexByte(template, '{')
		end := strings.IndexByte(template, '}')
		if open < 0 || end < open {
			b.WriteString(template)
			return b.String()
		}
		b.WriteString(template[:open])
		b.WriteString(url.PathEscape(params[template[open+1:end]]))
		template = template[end+1:]
	}
}

// forwardOrFail forwards the request as it came (its body) and answers 502
// cell_unavailable when the cell does not answer.
func (h *Handler) forwardOrFail(ctx context.Context, id cell.ID, req events.APIGatewayProxyRequest, path string, q url.Values) (int, any, error) {
	status, ans, err := h.forward(ctx, id, req, path, q, []byte(req.Body))
	if err != nil {
		h.log.Warn("cell did not answer", "cell", id, "error", err.Error())
		return 0, nil, edge.NewError(http.StatusBadGateway, edge.CodeCellUnavailable, fmt.Sprintf("cell %s did not answer; retry", id))
	}
	return status, ans, nil
}

// forwarded are the request headers a cell needs.
var forwarded = []string{"Authorization", "Content-Type", "Idempotency-Key", "X-Correlation-Id"}

// forward sends the request to the cell and returns its answer. A transport
// failure or a 5xx answer is an error: the cell's state is unknown.
func (h *Handler) forward(ctx context.Context, id cell.ID, req events.APIGatewayProxyRequest, path string, q url.Values, body []byte) (int, passthrough, error) {
	c, ok := h.cells.Get(id)
	if !ok {
		return 0, passthrough{}, fmt.Errorf("cell %s is not in the cell map", id)
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
		return 0, passthrough{}, fmt.Errorf("forward to cell %s: %w", id, err)
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
		return 0, passthrough{}, fmt.Errorf("forward to cell %s: %w", id, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes+1))
	if err != nil {
		return 0, passthrough{}, fmt.Errorf("read answer of cell %s: %w", id, err)
	}
	if len(raw) > MaxAnswerBytes {
		return 0, passthrough{}, fmt.Errorf("answer of cell %s is over %d bytes", id, MaxAnswerBytes)
	}
	if resp.StatusCode >= 500 {
		return 0, passthrough{}, fmt.Errorf("cell %s answered %d", id, resp.StatusCode)
	}
	return resp.StatusCode, passthrough{body: raw, ctype: resp.Header.Get("Content-Type")}, nil
}
