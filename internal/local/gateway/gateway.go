package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/local/throttle"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/memo"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// MaxPayloadBytes is API Gateway's own request payload limit (10 MB). The
// handlers enforce their smaller limit themselves.
const MaxPayloadBytes = 10 << 20

// The API's place in the method ARNs the gateway sends its authorizer
// (arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<METHOD><path>).
const (
	localRegion  = "us-east-1"
	localAccount = "123456789012"
	localAPIID   = "local"
)

// Verifier checks an ID token and returns its claims (an idtoken.Cache): the
// Cognito user pool authorizer of the operator routes.
type Verifier interface {
	Verify(ctx context.Context, raw string) (map[string]string, error)
}

// Authorizer is a Lambda REQUEST authorizer: the tenant routes' one
// (internal/app/authorizer), which the wiring passes in.
type Authorizer func(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error)

// Handler is a Lambda handler for REST API proxy events.
type Handler func(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// Gateway serves HTTP by invoking Lambda handlers in process.
type Gateway struct {
	verifier   Verifier
	authorizer Authorizer
	functions  map[route.Function]Handler
	log        *slog.Logger
	stage      string
	limiter    *throttle.Limiter
	// results caches the authorizer's answers per Authorization header
	// (see WithAuthorizerCache).
	results   *memo.Cache[[sha256.Size]byte, events.APIGatewayCustomAuthorizerResponse]
	resultTTL time.Duration
	now       func() time.Time
	// routes is the API's route table (route.All; WithRoutes).
	routes []route.Route
	// poolOnly guards every route with the user pool authorizer
	// (WithRoutes).
	poolOnly bool
}

// WithRoutes serves the cell router's API (route.Router) instead of the
// cells' (route.All): its every route, tenant users' included, is guarded by
// the Cognito user pool authorizer (the verifier), as the CDK app's router
// API is; it has no Lambda authorizer, API keys or usage plans.
func WithRoutes(table []route.Route) Option {
	return func(g *Gateway) { g.routes, g.poolOnly = table, true }
}

// AuthorizerCacheTTL is the tenant authorizer's result TTL in the CDK app
// (infra/), API Gateway's default.
const AuthorizerCacheTTL = 300 * time.Second

// Option configures a Gateway.
type Option func(*Gateway)

// WithAuthorizer guards the tenant routes (route.TenantUser) with a Lambda
// REQUEST authorizer, as the CDK app does: its identity source is the
// Authorization header (a request without one is 401 before it runs), an
// error "Unauthorized" is 401, any other error 500, a policy that does not
// allow the method 403, and an Allow hands its context and principalId to
// the function in requestContext.authorizer. With API keys from the
// authorizer (the API's apiKeySource AUTHORIZER), an Allow without a
// usageIdentifierKey is 403. Without an authorizer, tenant routes are 500.
func WithAuthorizer(a Authorizer) Option { return func(g *Gateway) { g.authorizer = a } }

// WithAuthorizerCache caches the authorizer's answers (Allow and Deny, never
// errors) for ttl, keyed on the Authorization header, as API Gateway's
// authorizer result cache does: a client's repeated requests skip the
// authorizer. Keys are SHA-256 hashes of the header; at most max are held.
func WithAuthorizerCache(ttl time.Duration, max int) Option {
	return func(g *Gateway) {
		g.results = memo.New[[sha256.Size]byte, events.APIGatewayCustomAuthorizerResponse](max, memo.WithClock(func() time.Time { return g.now() }))
		g.resultTTL = ttl
	}
}

// WithLimits makes the gateway enforce the usage plans on tenant routes as
// API Gateway does with the key the authorizer returns: the rate, burst and
// monthly quota of the tier the authorizer's context names
// (internal/platform/plan), counted per usageIdentifierKey, answering 429
// with Retry-After. A client's x-api-key header counts for nothing. Operator
// routes are not limited (they take no key).
func WithLimits(l *throttle.Limiter) Option { return func(g *Gateway) { g.limiter = l } }

// New returns a gateway that routes each function's routes to its handler.
// v verifies the ID tokens of the operator routes (their Cognito user pool
// authorizer); the tenant routes need WithAuthorizer.
func New(v Verifier, functions map[route.Function]Handler, log *slog.Logger, opts ...Option) *Gateway {
	g := &Gateway{verifier: v, functions: functions, log: log, stage: "local", now: time.Now, routes: route.All}
	for _, o := range opts {
		o(g)
	}
	return g
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, params, pathFound, ok := route.MatchIn(g.routes, r.Method, r.URL.EscapedPath())
	switch {
	case !ok && pathFound:
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "this method is not allowed on this path")
		return
	case !ok:
		writeError(w, http.StatusNotFound, "route_not_found", "no such route")
		return
	}
	fn, ok := g.functions[rt.Function]
	if !ok {
		writeError(w, http.StatusNotFound, "route_not_found", "no such route")
		return
	}
	for k, v := range params { // path segments arrive escaped; API Gateway decodes them
		dec, err := url.PathUnescape(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_path", "the path is not validly escaped")
			return
		}
		params[k] = dec
	}
	requestID := newRequestID()
	var authz map[string]any
	switch {
	case rt.Audience == route.Public: // authorization NONE: no token, no authorizer
	case strings.TrimSpace(r.Header.Get("Authorization")) == "":
		writeError(w, http.StatusUnauthorized, "unauthenticated", "an ID token is required in the Authorization header")
		return
	case rt.Audience == route.TenantUser && !g.poolOnly:
		if authz, ok = g.authorize(w, r, rt, params, requestID); !ok {
			return
		}
	default:
		claims, err := g.verifier.Verify(r.Context(), tenant.BearerToken(r.Header.Get("Authorization")))
		if err != nil {
			writeError(w, http.StatusUnauthorized, "unauthenticated", "the ID token is not valid")
			return
		}
		authz = map[string]any{"claims": stringMap(claims)}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadBytes+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "unreadable_body", "the request body could not be read")
		return
	}
	if len(body) > MaxPayloadBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", "request body too large")
		return
	}
	ev := g.event(r, rt, params, authz, body, requestID)
	resp, err := fn(r.Context(), ev)
	if err != nil {
		g.log.Error("handler failed", "requestId", ev.RequestContext.RequestID, "route", rt.Key(), "error", err.Error())
		writeError(w, http.StatusBadGateway, "internal", "internal error")
		return
	}
	writeResponse(w, resp)
}

// authorize runs the tenant authorizer (or takes its cached answer) and
// applies its policy, its API key and that key's usage plan. It returns
// requestContext.authorizer for the function; false means the request was
// refused and answered.
func (g *Gateway) authorize(w http.ResponseWriter, r *http.Request, rt route.Route, params map[string]string, requestID string) (map[string]any, bool) {
	if g.authorizer == nil {
		g.log.Error("no authorizer for a tenant route", "route", rt.Key())
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
		return nil, false
	}
	start := g.now()
	methodARN := g.methodARN(r.Method, r.URL.Path)
	// A cached answer is taken before the authorizer request is built: a
	// tenant over its limit is refused at the cost of a lookup, as API
	// Gateway throttles before it calls anything.
	key := sha256.Sum256([]byte(authorizationOf(r.Header)))
	resp, cached := events.APIGatewayCustomAuthorizerResponse{}, false
	if g.results != nil {
		resp, cached = g.results.Lookup(key)
	}
	var err error
	if !cached {
		resp, err = g.authorizerAnswer(r.Context(), key, g.authorizerRequest(r, rt, params, methodARN, requestID))
	}
	switch {
	case err != nil && err.Error() == "Unauthorized":
		writeError(w, http.StatusUnauthorized, "unauthenticated", "the ID token is not valid")
		return nil, false
	case err != nil:
		g.log.Error("authorizer failed", "requestId", requestID, "route", rt.Key(), "error", err.Error())
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
		return nil, false
	case !allows(resp.PolicyDocument, methodARN):
		writeError(w, http.StatusForbidden, "forbidden", "access denied")
		return nil, false
	case resp.UsageIdentifierKey == "":
		writeError(w, http.StatusForbidden, "invalid_api_key", "the tenant has no valid API key")
		return nil, false
	}
	if g.limiter != nil && !g.limit(w, resp) {
		return nil, false
	}
	authz := make(map[string]any, len(resp.Context)+2)
	for k, v := range resp.Context {
		if s, ok := v.(string); ok {
			authz[k] = s
		} else {
			authz[k] = fmt.Sprint(v) // API Gateway passes context values on as strings
		}
	}
	authz["principalId"] = resp.PrincipalID
	authz["integrationLatency"] = g.now().Sub(start).Milliseconds()
	return authz, true
}

// authorizerAnswer is the authorizer's answer for the request's
// Authorization header, from the result cache when fresh.
func (g *Gateway) authorizerAnswer(ctx context.Context, key [sha256.Size]byte, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	if g.results == nil {
		return g.authorizer(ctx, req)
	}
	return g.results.Get(ctx, key, func(ctx context.Context) (events.APIGatewayCustomAuthorizerResponse, time.Time, error) {
		resp, err := g.authorizer(ctx, req)
		return resp, g.now().Add(g.resultTTL), err
	})
}

// authorizationOf is the Authorization header of h as the authorizer
// request carries it (tenant.AuthorizationHeader of its headers: the last
// value), the key of the authorizer's cached answers.
func authorizationOf(h http.Header) string {
	if vs := h["Authorization"]; len(vs) > 0 {
		return vs[len(vs)-1]
	}
	for k, vs := range h {
		if strings.EqualFold(k, "Authorization") && len(vs) > 0 {
			return vs[len(vs)-1]
		}
	}
	return ""
}

// limit applies the usage plan of the tier the authorizer named, counted on
// the key it returned; false means the request was refused and answered. A
// tier with no plan is a key in no usage plan of the stage: 403.
func (g *Gateway) limit(w http.ResponseWriter, resp events.APIGatewayCustomAuthorizerResponse) bool {
	tier, _ := resp.Context["tier"].(string)
	lim, ok := plan.For(catalog.Tier(tier))
	if !ok {
		writeError(w, http.StatusForbidden, "invalid_api_key", "the tenant's API key is in no usage plan")
		return false
	}
	d := g.limiter.Allow(resp.UsageIdentifierKey, lim)
	if d.Allowed {
		return true
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(d.RetryAfter/time.Second)))
	if d.Code == throttle.CodeQuotaExceeded {
		writeError(w, http.StatusTooManyRequests, d.Code, "the tenant has used its monthly request quota")
	} else {
		writeError(w, http.StatusTooManyRequests, d.Code, "Too Many Requests: the tenant is over its request rate")
	}
	return false
}

// methodARN is the ARN of the method being called, as API Gateway hands it
// to an authorizer.
func (g *Gateway) methodARN(method, path string) string {
	return "arn:aws:execute-api:" + localRegion + ":" + localAccount + ":" + localAPIID + "/" + g.stage + "/" + method + path
}

// authorizerRequest builds the REQUEST authorizer input API Gateway sends
// for r.
func (g *Gateway) authorizerRequest(r *http.Request, rt route.Route, params map[string]string, methodARN, requestID string) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	req := events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type: "REQUEST", MethodArn: methodARN, Resource: rt.Path, Path: r.URL.Path, HTTPMethod: r.Method,
		PathParameters: params, StageVariables: map[string]string{},
		RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{
			Path: "/" + g.stage + r.URL.Path, AccountID: localAccount, Stage: g.stage, RequestID: requestID,
			Identity:     events.APIGatewayCustomAuthorizerRequestTypeRequestIdentity{SourceIP: sourceIP(r)},
			ResourcePath: rt.Path, HTTPMethod: r.Method, APIID: localAPIID,
		},
	}
	req.Headers, req.MultiValueHeaders = lastAndAll(r.Header)
	req.QueryStringParameters, req.MultiValueQueryStringParameters = lastAndAll(r.URL.Query())
	return req
}

// lastAndAll is API Gateway's two views of a multi-valued map (headers, query
// parameters): each name's last value, and all of its values.
func lastAndAll(m map[string][]string) (map[string]string, map[string][]string) {
	last, all := make(map[string]string, len(m)), make(map[string][]string, len(m))
	for k, vs := range m {
		last[k] = vs[len(vs)-1]
		all[k] = vs
	}
	return last, all
}

// allows evaluates an authorizer's policy for execute-api:Invoke on arn as
// API Gateway does: an explicit Deny wins, else an Allow is needed.
func allows(doc events.APIGatewayCustomAuthorizerPolicy, arn string) bool {
	allowed := false
	for _, st := range doc.Statement {
		if !slices.ContainsFunc(st.Action, func(a string) bool { return glob(a, "execute-api:Invoke") }) ||
			!slices.ContainsFunc(st.Resource, func(p string) bool { return glob(p, arn) }) {
			continue
		}
		switch st.Effect {
		case "Deny":
			return false
		case "Allow":
			allowed = true
		}
	}
	return allowed
}

// glob matches s against an IAM pattern: '*' is any run of characters, '?'
// any one character.
func glob(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if glob(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && glob(pattern[1:], s[1:])
	default:
		return s != "" && s[0] == pattern[0] && glob(pattern[1:], s[1:])
	}
}

// event builds the proxy event API Gateway's REST API sends for r, with the
// authorizer's output in requestContext.authorizer.
func (g *Gateway) event(r *http.Request, rt route.Route, params map[string]string, authz map[string]any, body []byte, requestID string) events.APIGatewayProxyRequest {
	ev := events.APIGatewayProxyRequest{
		Resource:       rt.Path,
		Path:           r.URL.Path,
		HTTPMethod:     r.Method,
		PathParameters: params,
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID:        requestID,
			Stage:            g.stage,
			ResourcePath:     rt.Path,
			HTTPMethod:       r.Method,
			Path:             "/" + g.stage + r.URL.Path,
			Protocol:         r.Proto,
			RequestTime:      time.Now().UTC().Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch: time.Now().UnixMilli(),
			Identity:         events.APIGatewayRequestIdentity{SourceIP: sourceIP(r), UserAgent: r.UserAgent()},
			Authorizer:       authz,
		},
	}
	ev.Headers, ev.MultiValueHeaders = lastAndAll(r.Header)
	ev.QueryStringParameters, ev.MultiValueQueryStringParameters = lastAndAll(r.URL.Query())
	if utf8.Valid(body) {
		ev.Body = string(body)
	} else {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return ev
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func writeResponse(w http.ResponseWriter, resp events.APIGatewayProxyResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = b
		}
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	// The same headers as the handlers' answers (edge.Finish).
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	var b struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	b.Error.Code, b.Error.Message = code, msg
	_ = json.NewEncoder(w).Encode(b)
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = http.ErrServerClosed

// Serve listens on addr until ctx ends, then shuts down gracefully.
func Serve(ctx context.Context, addr string, h http.Handler, ready func(net.Addr)) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if ready != nil {
		ready(l.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			return err
		}
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}
