package authorizer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/idtoken"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// ErrUnauthorized is the answer API Gateway turns into 401: its text must be
// exactly "Unauthorized".
var ErrUnauthorized = errors.New("Unauthorized")

// The keys of the context an Allow passes on. API Gateway hands them to the
// function in requestContext.authorizer (next to principalId) as strings.
const (
	ContextTenantID = "tenantId"
	ContextSub      = "sub"
	ContextRole     = "role"
	// ContextGroups is the user's Cognito groups, joined with ",".
	ContextGroups = "groups"
	ContextTier   = "tier"
	// ContextReason says why a Deny was given (a stable code), for logs.
	ContextReason = "reason"
)

// Reasons of a Deny.
const (
	ReasonTenantUnknown  = "tenant_unknown"
	ReasonTenantInactive = "tenant_not_active"
	ReasonNoUsageKey     = "tenant_without_api_key"
)

// Catalog reads tenant records (a catalog.Cache).
type Catalog interface {
	Get(ctx context.Context, tenantID string) (catalog.Record, error)
}

// Handler is the authorizer.
type Handler struct {
	tokens  tenant.Verifier
	tenants Catalog
	log     *slog.Logger
}

// New returns the authorizer. It makes no AWS call.
func New(tokens tenant.Verifier, tenants Catalog, log *slog.Logger) *Handler {
	return &Handler{tokens: tokens, tenants: tenants, log: log}
}

// Handle is the Lambda entry point.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	log := h.log.With("requestId", req.RequestContext.RequestID, "route", req.HTTPMethod+" "+req.Resource)
	resource, err := StageResource(req.MethodArn)
	if err != nil {
		log.Error("authorizer request", "error", err.Error())
		return events.APIGatewayCustomAuthorizerResponse{}, err
	}
	if h.tokens == nil {
		return events.APIGatewayCustomAuthorizerResponse{}, errors.New("authorizer: no ID token verifier configured")
	}
	raw := tenant.BearerToken(tenant.AuthorizationHeader(req.Headers, req.MultiValueHeaders))
	if raw == "" {
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	claims, err := h.tokens.Verify(ctx, raw)
	if err != nil {
		if errors.Is(err, idtoken.ErrInvalidToken) {
			log.Info("token refused", "error", err.Error()) // the reason never quotes the token
			return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
		}
		log.Error("token not verifiable", "error", err.Error())
		return events.APIGatewayCustomAuthorizerResponse{}, fmt.Errorf("verify token: %w", err)
	}
	t, err := tenant.FromClaims(claims)
	if err != nil {
		log.Info("token names no tenant", "error", err.Error())
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	log = log.With("tenantId", t.ID)
	rec, err := h.tenants.Get(ctx, t.ID)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return h.deny(log, t, resource, ReasonTenantUnknown), nil
	case err != nil:
		log.Error("catalog", "error", err.Error())
		return events.APIGatewayCustomAuthorizerResponse{}, fmt.Errorf("read tenant %s: %w", t.ID, err)
	case rec.Readable() != nil:
		// A tenant being restored is read-only, not inactive: its reads must
		// get through, and the API refuses its writes (503
		// tenant_restoring). API Gateway caches this answer per token, not
		// per route, so the authorizer cannot tell reads from writes.
		return h.deny(log, t, resource, ReasonTenantInactive), nil
	case rec.UsageKey == "":
		return h.deny(log, t, resource, ReasonNoUsageKey), nil
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID:        t.UserID,
		PolicyDocument:     policy("Allow", resource),
		UsageIdentifierKey: rec.UsageKey,
		Context: map[string]any{
			ContextTenantID: t.ID,
			ContextSub:      t.UserID,
			ContextRole:     string(t.Role),
			ContextGroups:   strings.Join(t.Groups, ","),
			ContextTier:     string(rec.Tier),
		},
	}, nil
}

func (h *Handler) deny(log *slog.Logger, t tenant.Tenant, resource, reason string) events.APIGatewayCustomAuthorizerResponse {
	log.Info("denied", "reason", reason)
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID:    t.UserID,
		PolicyDocument: policy("Deny", resource),
		Context:        map[string]any{ContextTenantID: t.ID, ContextReason: reason},
	}
}

func policy(effect, resource string) events.APIGatewayCustomAuthorizerPolicy {
	return events.APIGatewayCustomAuthorizerPolicy{
		Version:   "2012-10-17",
		Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: []string{resource}}},
	}
}

// StageResource turns the method ARN API Gateway sends
// ("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/v1/products")
// into the resource the policy allows: every method and path of that API
// and stage ("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*").
// API Gateway caches the policy per token, not per route, so a policy for
// the one route would refuse the token's next request to another.
func StageResource(methodARN string) (string, error) {
	parts := strings.SplitN(methodARN, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "execute-api" {
		return "", fmt.Errorf("authorizer: method ARN %q is not an execute-api ARN", methodARN)
	}
	segs := strings.SplitN(parts[5], "/", 3)
	if len(segs) < 2 || segs[0] == "" || segs[1] == "" || strings.ContainsAny(segs[0]+segs[1], "*?") {
		return "", fmt.Errorf("authorizer: method ARN %q names no API and stage", methodARN)
	}
	return strings.Join(parts[:5], ":") + ":" + segs[0] + "/" + segs[1] + "/*", nil
}
