package tenant

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/idtoken"
)

// Verifier checks an ID token and returns its verified claims: an
// idtoken.Cache in front of an idtoken.Verifier, the one implementation
// that the tenant authorizer, the handlers and the local gateway share.
type Verifier interface {
	Verify(ctx context.Context, raw string) (map[string]string, error)
}

// AuthorizationHeader returns the Authorization header of a request, in
// whatever case the client sent its name.
func AuthorizationHeader(headers map[string]string, multi map[string][]string) string {
	if v, ok := headers["Authorization"]; ok {
		return v
	}
	for k, v := range headers {
		if strings.EqualFold(k, "Authorization") {
			return v
		}
	}
	for k, vs := range multi {
		if strings.EqualFold(k, "Authorization") && len(vs) > 0 {
			return vs[len(vs)-1]
		}
	}
	return ""
}

// BearerToken returns the token of an Authorization header value: the part
// after "Bearer ", or the whole value, which is what API Gateway's Cognito
// authorizer accepts too.
func BearerToken(header string) string {
	v := strings.TrimSpace(header)
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		v = strings.TrimSpace(v[7:])
	}
	return v
}

// verifiedClaims verifies the request's own ID token. A missing or rejected
// token is ErrUnauthenticated (401); a failure to check it at all (the keys
// could not be fetched) is another error (500).
func verifiedClaims(ctx context.Context, v Verifier, req events.APIGatewayProxyRequest) (map[string]string, error) {
	if v == nil {
		return nil, errors.New("tenant: no ID token verifier configured")
	}
	raw := BearerToken(AuthorizationHeader(req.Headers, req.MultiValueHeaders))
	if raw == "" {
		return nil, fmt.Errorf("%w: no ID token in the Authorization header", ErrUnauthenticated)
	}
	claims, err := v.Verify(ctx, raw)
	switch {
	case errors.Is(err, idtoken.ErrInvalidToken):
		return nil, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	case err != nil:
		return nil, fmt.Errorf("verify ID token: %w", err)
	}
	return claims, nil
}

// Authenticate returns the tenant user whose ID token the request carries,
// verified by v. The event's authorizer context is not read: whatever a
// direct invoke writes there, a request without a valid token of the pool
// is ErrUnauthenticated.
func Authenticate(ctx context.Context, v Verifier, req events.APIGatewayProxyRequest) (Tenant, error) {
	claims, err := verifiedClaims(ctx, v, req)
	if err != nil {
		return Tenant{}, err
	}
	return FromClaims(claims)
}

// AuthenticateOperator returns the operator whose ID token the request
// carries, verified by v, checking the operators group of the verified
// token on every call: ErrUnauthenticated without a valid token,
// ErrNotOperator for a valid token of anyone else.
func AuthenticateOperator(ctx context.Context, v Verifier, req events.APIGatewayProxyRequest) (Operator, error) {
	claims, err := verifiedClaims(ctx, v, req)
	if err != nil {
		return Operator{}, err
	}
	sub := claims["sub"]
	if sub == "" {
		return Operator{}, fmt.Errorf("%w: claim sub missing", ErrUnauthenticated)
	}
	if !(Tenant{Groups: ParseGroups(claims[ClaimGroups])}).InGroup(OperatorsGroup) {
		return Operator{}, ErrNotOperator
	}
	return Operator{UserID: sub, Email: claims["email"]}, nil
}
