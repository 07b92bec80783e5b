package idtoken

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidToken is wrapped by every rejection of a token. The text after it
// is a short reason that is safe to show: it never quotes the token.
var ErrInvalidToken = errors.New("idtoken: invalid token")

const (
	// MaxTokenBytes bounds the size of a token Verify will look at. API
	// Gateway already refuses request headers above 10 KB.
	MaxTokenBytes = 16 << 10
	// expLeeway is the only tolerance on exp and nbf: clocks of a laptop and
	// AWS may differ by a little, never by more.
	expLeeway = 5 * time.Second
	// iatLeeway is how far in the future iat may be.
	iatLeeway = 60 * time.Second
	// refetchInterval is the least time between two JWKS fetches once a key
	// set is cached, so that tokens with made-up kids cannot hammer the
	// endpoint.
	refetchInterval = 30 * time.Second
	// retryInterval is the least time between two JWKS fetches while none has
	// succeeded yet.
	retryInterval = time.Second
	// fetchTimeout bounds one JWKS fetch.
	fetchTimeout = 10 * time.Second
)

// Config says which tokens a Verifier accepts and where it finds their keys.
type Config struct {
	// UserPoolID is the pool that must have issued the token, e.g. us-east-1_abc.
	UserPoolID string
	// ClientID is the app client the token must be issued to (aud).
	ClientID string
	// JWKSURL is where the pool's keys are served; see JWKSURL.
	JWKSURL string
	// HTTPClient fetches the JWKS; default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Verifier verifies ID tokens of one user pool and app client. It is safe for
// concurrent use; build one and share it.
type Verifier struct {
	poolID, clientID, jwksURL string
	client                    *http.Client
	now                       func() time.Time
	parser                    *jwt.Parser

	keys atomic.Pointer[keySet] // nil until the first successful fetch

	fetchMu   sync.Mutex // serialises fetches
	lastFetch time.Time  // time of the last fetch attempt, under fetchMu
}

// Formats of pool and app client ids, from the Cognito API reference.
var (
	poolIDPattern   = regexp.MustCompile(`^[\w-]+_[0-9a-zA-Z]+$`)
	clientIDPattern = regexp.MustCompile(`^[\w+]+$`)
)

// JWKSURL returns where the JWKS of a user pool is served by a Cognito
// endpoint: https://cognito-idp.<region>.amazonaws.com in AWS, moto's URL
// locally.
func JWKSURL(endpoint, userPoolID string) string {
	return strings.TrimRight(endpoint, "/") + "/" + url.PathEscape(userPoolID) + "/.well-known/jwks.json"
}

// NewVerifier checks the configuration and returns a Verifier. It fetches
// nothing: the JWKS is fetched on the first Verify.
func NewVerifier(c Config) (*Verifier, error) {
	if !poolIDPattern.MatchString(c.UserPoolID) {
		return nil, fmt.Errorf("idtoken: user pool id %q is not of the form <region>_<id>", c.UserPoolID)
	}
	if !clientIDPattern.MatchString(c.ClientID) {
		return nil, fmt.Errorf("idtoken: app client id %q is empty or malformed", c.ClientID)
	}
	u, err := url.Parse(c.JWKSURL)
	if err != nil {
		return nil, fmt.Errorf("idtoken: JWKS URL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("idtoken: JWKS URL %q is not an absolute http(s) URL", c.JWKSURL)
	}
	v := &Verifier{
		poolID: c.UserPoolID, clientID: c.ClientID, jwksURL: c.JWKSURL,
		client: c.HTTPClient, now: c.Now,
	}
	if v.client == nil {
		v.client = &http.Client{Timeout: fetchTimeout}
	}
	if v.now == nil {
		v.now = time.Now
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithAudience(c.ClientID),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(expLeeway),
		jwt.WithTimeFunc(v.now),
		jwt.WithJSONNumber(),
		jwt.WithStrictDecoding(),
	)
	return v, nil
}

// Verify checks raw, a compact JWT, and returns its claims flattened to
// strings as API Gateway's REST Cognito authorizer passes them to a handler
// (see flatten). A rejected token gives an error wrapping ErrInvalidToken;
// any other error means the keys could not be fetched, so the token could be
// neither accepted nor rejected.
func (v *Verifier) Verify(ctx context.Context, raw string) (map[string]string, error) {
	if raw == "" {
		return nil, reject("empty token")
	}
	if len(raw) > MaxTokenBytes {
		return nil, reject("token too large")
	}
	if strings.Count(raw, ".") != 2 {
		return nil, reject("not a three-part JWT")
	}
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, ok := t.Header["kid"].(string)
		if !ok || kid == "" {
			return nil, errNoKid
		}
		return v.key(ctx, kid)
	})
	if err != nil {
		// The signature was good if the claims failed: say first whether
		// the token is an ID token of the pool at all, then why the library
		// refused it (exp, nbf, aud).
		if errors.Is(err, jwt.ErrTokenInvalidClaims) {
			if cerr := v.checkClaims(claims); cerr != nil {
				return nil, cerr
			}
		}
		return nil, v.translate(err)
	}
	if err := v.checkClaims(claims); err != nil {
		return nil, err
	}
	return flatten(claims), nil
}

// checkClaims does the checks the JWT library has no option for.
func (v *Verifier) checkClaims(c jwt.MapClaims) error {
	if use, _ := c["token_use"].(string); use != "id" {
		return reject("token_use is not id")
	}
	iss, _ := c["iss"].(string)
	if !v.issuedByPool(iss) {
		return reject("issuer is not the user pool")
	}
	iat, err := c.GetIssuedAt()
	if err != nil || iat == nil {
		return reject("missing or malformed iat")
	}
	if iat.After(v.now().Add(iatLeeway)) {
		return reject("issued in the future")
	}
	return nil
}

// issuedByPool reports whether iss is https://<host>/<pool id> for the
// configured pool. The host is not pinned: it is that of the JWKS in AWS
// (cognito-idp.<region>.amazonaws.com), and moto writes the same one.
func (v *Verifier) issuedByPool(iss string) bool {
	rest, ok := strings.CutPrefix(iss, "https://")
	if !ok {
		return false
	}
	host, path, ok := strings.Cut(rest, "/")
	if !ok || host == "" || path != v.poolID {
		return false
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == ':') {
			return false
		}
	}
	return true
}

var (
	errNoKid      = errors.New("missing kid")
	errUnknownKid = errors.New("unknown signing key")
)

// translate turns an error of the JWT parser into ErrInvalidToken with a
// reason of our own (the library's texts may quote the header), or passes a
// key fetch failure through.
func (v *Verifier) translate(err error) error {
	var fe *fetchError
	switch {
	case errors.As(err, &fe):
		return fe
	case errors.Is(err, errNoKid):
		return reject("missing kid")
	case errors.Is(err, errUnknownKid):
		return reject("unknown kid")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return reject("malformed token")
	case errors.Is(err, jwt.ErrTokenUnverifiable), errors.Is(err, jwt.ErrTokenSignatureInvalid):
		// Unknown alg, an alg other than RS256, or a bad signature.
		return reject("signature or algorithm not valid")
	case errors.Is(err, jwt.ErrTokenExpired):
		return reject("token expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return reject("token not valid yet")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return reject("audience is not the app client")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return reject("missing exp or aud")
	default:
		return reject("claims not valid")
	}
}

func reject(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, reason)
}
