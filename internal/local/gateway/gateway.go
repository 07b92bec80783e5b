package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/local/throttle"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/idtoken"
	"github.com/tessera-saas/tessera/internal/platform/memo"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// MaxPayloadBytes is API Gateway's own request payload limit (10 MB). The
// handlers enforce their smaller limit themselves.
const MaxPayloadBytes = 10 << 20

// Verifier checks an ID token and returns its claims (internal/platform/idtoken).
type Verifier interface {
	Verify(ctx context.Context, raw string) (map[string]string, error)
}

// Handler is a Lambda handler for REST API proxy events.
type Handler func(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// Gateway serves HTTP by invoking Lambda handlers in process.
type Gateway struct {
	verifier  Verifier
	functions map[route.Function]Handler
	log       *slog.Logger
	stage     string
	tiers     Tiers
	limiter   *throttle.Limiter
	// authorized caches verified claims per token (see WithAuthorizerCache).
	authorized *memo.Cache[[sha256.Size]byte, map[string]string]
	authTTL    time.Duration
}

// AuthorizerCacheTTL is API Gateway's default authorizer result TTL.
const AuthorizerCacheTTL = 300 * time.Second

// WithAuthorizerCache caches the claims of a verified ID token for up to
// ttl, never past the token's exp, as API Gateway's authorizer result cache
// does (300 s by default): a client's repeated requests skip the signature
// check. Tokens that fail verification are not cached. Keys are SHA-256
// hashes of the tokens; at most max tokens are held.
func WithAuthorizerCache(ttl time.Duration, max int) Option {
	return func(g *Gateway) {
		g.authorized, g.authTTL = memo.New[[sha256.Size]byte, map[string]string](max), ttl
	}
}

// verify returns the token's claims, from the authorizer cache when fresh.
func (g *Gateway) verify(ctx context.Context, token string) (map[string]string, error) {
	if g.authorized == nil {
		return g.verifier.Verify(ctx, token)
	}
	return g.authorized.Get(ctx, sha256.Sum256([]byte(token)), func(ctx context.Context) (map[string]string, time.Time, error) {
		claims, err := g.verifier.Verify(ctx, token)
		if err != nil {
			return nil, time.Time{}, err
		}
		until := time.Now().Add(g.authTTL)
		if exp, ok := idtoken.Expiry(claims); !ok || exp.Before(until) {
			until = exp // a token without a readable exp is not kept
		}
		return claims, until, nil
	})
}

// Tiers tells the gateway a tenant's tier (the catalog, cached).
type Tiers interface {
	Get(ctx context.Context, tenantID string) (catalog.Record, error)
}

// Option configures a Gateway.
type Option func(*Gateway)

// WithLimits makes the gateway enforce each tenant's usage plan on tenant
// routes, as API Gateway does for the tenant's API key: the rate, burst and
// monthly quota of its tier (internal/platform/plan), answering 429 with
// Retry-After. Operator routes are not limited (they carry no API key).
func WithLimits(tiers Tiers, l *throttle.Limiter) Option {
	return func(g *Gateway) { g.tiers, g.limiter = tiers, l }
}

// New returns a gateway that routes each function's routes to its handler.
func New(v Verifier, functions map[route.Function]Handler, log *slog.Logger, opts ...Option) *Gateway {
	g := &Gateway{verifier: v, functions: functions, log: log, stage: "local"}
	for _, o := range opts {
		o(g)
	}
	return g
}

// limit applies the tenant's usage plan; false means the request was
// refused and answered. A tenant the catalog does not know (or an unknown
// tier) is left to the handler, which answers it.
func (g *Gateway) limit(w http.ResponseWriter, r *http.Request, rt route.Route, claims map[string]string) bool {
	if g.limiter == nil || rt.Audience != route.TenantUser {
		return true
	}
	id := claims[tenant.ClaimTenantID]
	if !tenant.ValidID(id) {
		return true // the handler answers 401
	}
	rec, err := g.tiers.Get(r.Context(), id)
	if err != nil {
		return true
	}
	lim, ok := plan.For(rec.Tier)
	if !ok {
		return true
	}
	d := g.limiter.Allow(id, lim)
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

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, params, pathFound, ok := route.Match(r.Method, r.URL.EscapedPath())
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
	token := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(token) > 7 && strings.EqualFold(token[:7], "bearer ") {
		token = strings.TrimSpace(token[7:])
	}
	if token == "" {
		writeError(w, http.StatusUnauthorized, "unauthenticated", "an ID token is required in the Authorization header")
		return
	}
	claims, err := g.verify(r.Context(), token)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "unauthenticated", "the ID token is not valid")
		return
	}
	if !g.limit(w, r, rt, claims) {
		return
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
	ev := g.event(r, rt, params, claims, body)
	resp, err := fn(r.Context(), ev)
	if err != nil {
		g.log.Error("handler failed", "requestId", ev.RequestContext.RequestID, "route", rt.Key(), "error", err.Error())
		writeError(w, http.StatusBadGateway, "internal", "internal error")
		return
	}
	writeResponse(w, resp)
}

// event builds the proxy event API Gateway's REST API sends for r.
func (g *Gateway) event(r *http.Request, rt route.Route, params map[string]string, claims map[string]string, body []byte) events.APIGatewayProxyRequest {
	ev := events.APIGatewayProxyRequest{
		Resource:                        rt.Path,
		Path:                            r.URL.Path,
		HTTPMethod:                      r.Method,
		Headers:                         map[string]string{},
		MultiValueHeaders:               map[string][]string{},
		QueryStringParameters:           map[string]string{},
		MultiValueQueryStringParameters: map[string][]string{},
		PathParameters:                  params,
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID:        requestID(),
			Stage:            g.stage,
			ResourcePath:     rt.Path,
			HTTPMethod:       r.Method,
			Path:             "/" + g.stage + r.URL.Path,
			Protocol:         r.Proto,
			RequestTime:      time.Now().UTC().Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch: time.Now().UnixMilli(),
			Identity:         events.APIGatewayRequestIdentity{SourceIP: sourceIP(r), UserAgent: r.UserAgent()},
			Authorizer:       map[string]any{"claims": stringMap(claims)},
		},
	}
	for k, vs := range r.Header {
		ev.Headers[k] = vs[len(vs)-1]
		ev.MultiValueHeaders[k] = vs
	}
	for k, vs := range r.URL.Query() {
		ev.QueryStringParameters[k] = vs[len(vs)-1]
		ev.MultiValueQueryStringParameters[k] = vs
	}
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
	w.Header().Set("Content-Type", "application/json")
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

func requestID() string {
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
