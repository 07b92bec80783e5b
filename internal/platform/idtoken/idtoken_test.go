package idtoken_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tessera-saas/tessera/internal/platform/idtoken"
)

const (
	testPool   = "us-east-1_abc"
	testClient = "client123"
	testIss    = "https://cognito-idp.us-east-1.amazonaws.com/" + testPool
)

// t0 is the fake clock's start: Sun 2026-11-22 09:13:20 UTC.
var t0 = time.Unix(1795338800, 0)

var (
	keysOnce   sync.Once
	keyA, keyB *rsa.PrivateKey
)

// keys returns two RSA keys, generated once per test binary.
func keys(tb testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	tb.Helper()
	keysOnce.Do(func() {
		var err error
		if keyA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if keyB, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return keyA, keyB
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// jwksServer serves a JWKS that tests may change, and counts requests.
type jwksServer struct {
	*httptest.Server
	hits   atomic.Int32
	body   atomic.Value // []byte
	status atomic.Int32
}

func newJWKSServer(t testing.TB, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.body.Store(body)
	s.status.Store(http.StatusOK)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if r.URL.Path != "/"+testPool+"/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(s.status.Load()))
		w.Write(s.body.Load().([]byte))
	}))
	t.Cleanup(s.Close)
	return s
}

type testKey struct {
	kid string
	pub *rsa.PublicKey
}

func jwks(keys ...testKey) []byte {
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	for _, k := range keys {
		doc.Keys = append(doc.Keys, map[string]string{
			"kty": "RSA", "kid": k.kid, "alg": "RS256", "use": "sig",
			"n": base64.RawURLEncoding.EncodeToString(k.pub.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.pub.E)).Bytes()),
		})
	}
	b, _ := json.Marshal(doc)
	return b
}

func newVerifier(t testing.TB, srv *jwksServer, c *clock) *idtoken.Verifier {
	t.Helper()
	v, err := idtoken.NewVerifier(idtoken.Config{
		UserPoolID: testPool,
		ClientID:   testClient,
		JWKSURL:    idtoken.JWKSURL(srv.URL, testPool),
		HTTPClient: srv.Client(),
		Now:        c.Now,
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// claims are those of a Cognito ID token, issued at now.
func claims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"sub":              "8f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b",
		"iss":              testIss,
		"aud":              testClient,
		"token_use":        "id",
		"auth_time":        now.Unix(),
		"iat":              now.Unix(),
		"exp":              now.Add(time.Hour).Unix(),
		"cognito:username": "8f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b",
		"cognito:groups":   []string{"operators", "admins"},
		"email":            "admin@acme.test",
		"email_verified":   true,
		"custom:tenantId":  "t-1",
		"custom:role":      "admin",
	}
}

func sign(t testing.TB, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	c[k] = v
	return c
}

func without(c jwt.MapClaims, k string) jwt.MapClaims {
	delete(c, k)
	return c
}

func TestVerifyAcceptsValidToken(t *testing.T) {
	a, _ := keys(t)
	srv := newJWKSServer(t, jwks(testKey{"k1", &a.PublicKey}))
	c := &clock{t: t0}
	v := newVerifier(t, srv, c)
	got, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, a, "k1", claims(t0)))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := map[string]string{
		"sub":              "8f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b",
		"iss":              testIss,
		"aud":              testClient,
		"token_use":        "id",
		"auth_time":        "1795338800",
		"iat":              "Sun Nov 22 09:13:20 UTC 2026",
		"exp":              "Sun Nov 22 10:13:20 UTC 2026",
		"cognito:username": "8f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b",
		"cognito:groups":   "operators,admins",
		"email":            "admin@acme.test",
		"email_verified":   "true",
		"custom:tenantId":  "t-1",
		"custom:role":      "admin",
	}
	if len(got) != len(want) {
		t.Errorf("got %d claims, want %d: %v", len(got), len(want), got)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("claim %s = %q, want %q", k, got[k], w)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1", n)
	}
}

func TestVerifyToleratesSmallClockSkew(t *testing.T) {
	a, _ := keys(t)
	srv := newJWKSServer(t, jwks(testKey{"k1", &a.PublicKey}))
	v := newVerifier(t, srv, &clock{t: t0})
	for name, c := range map[string]jwt.MapClaims{
		"expired 4 s ago":           with(claims(t0), "exp", t0.Add(-4*time.Second).Unix()),
		"issued 50 s in the future": claims(t0.Add(50 * time.Second)),
	} {
		if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, a, "k1", c)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestVerifyFlattensClaims(t *testing.T) {
	a, _ := keys(t)
	srv := newJWKSServer(t, jwks(testKey{"k1", &a.PublicKey}))
	v := newVerifier(t, srv, &clock{t: t0})
	c := claims(t0)
	c["cognito:groups"] = []string{"readers"}
	c["big"] = int64(1) << 60
	c["float"] = 1.5
	c["whole_float"] = 3.0
	c["obj"] = map[string]any{"a": 1}
	c["nothing"] = nil
	c["no"] = false
	got, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, a, "k1", c))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for k, w := range map[string]string{
		"cognito:groups": "readers",
		"big":            "1152921504606846976",
		"float":          "1.5",
		"whole_float":    "3",
		"obj":            `{"a":1}`,
		"no":             "false",
	} {
		if got[k] != w {
			t.Errorf("claim %s = %q, want %q", k, got[k], w)
		}
	}
	if _, ok := got["nothing"]; ok {
		t.Errorf("null claim kept: %q", got["nothing"])
	}
}

func TestVerifyRejects(t *testing.T) {
	a, b := keys(t)
	pubDER, err := x509.MarshalPKIXPublicKey(&a.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	good := sign(t, jwt.SigningMethodRS256, a, "k1", claims(t0))
	parts := strings.Split(good, ".")

	tests := []struct {
		name   string
		token  func() string
		reason string // a substring of the error
	}{
		{"empty", func() string { return "" }, "empty"},
		{"two parts", func() string { return parts[0] + "." + parts[1] }, "three-part"},
		{"four parts", func() string { return good + ".x" }, "three-part"},
		{"huge", func() string { return strings.Repeat("a", idtoken.MaxTokenBytes) + ".b.c" }, "too large"},
		{"header not base64", func() string { return "!!!." + parts[1] + "." + parts[2] }, "malformed"},
		{"payload not base64", func() string { return parts[0] + ".%%%." + parts[2] }, "malformed"},
		{"signature not base64", func() string { return parts[0] + "." + parts[1] + ".***" }, "malformed"},
		{"header not JSON", func() string {
			return base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + parts[1] + "." + parts[2]
		}, "malformed"},
		{"payload of another token", func() string {
			other := strings.Split(sign(t, jwt.SigningMethodRS256, a, "k1", with(claims(t0), "custom:tenantId", "t-2")), ".")
			return parts[0] + "." + other[1] + "." + parts[2]
		}, "signature"},
		{"signed by another key with the same kid", func() string {
			return sign(t, jwt.SigningMethodRS256, b, "k1", claims(t0))
		}, "signature"},
		{"alg none", func() string {
			return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "k1", claims(t0))
		}, "algorithm"},
		{"HS256 keyed with the public key PEM", func() string {
			return sign(t, jwt.SigningMethodHS256, pubPEM, "k1", claims(t0))
		}, "algorithm"},
		{"HS256 keyed with the public key DER", func() string {
			return sign(t, jwt.SigningMethodHS256, pubDER, "k1", claims(t0))
		}, "algorithm"},
		{"RS512 with the right key", func() string {
			return sign(t, jwt.SigningMethodRS512, a, "k1", claims(t0))
		}, "algorithm"},
		{"PS256 with the right key", func() string {
			return sign(t, jwt.SigningMethodPS256, a, "k1", claims(t0))
		}, "algorithm"},
		{"missing kid", func() string { return sign(t, jwt.SigningMethodRS256, a, "", claims(t0)) }, "missing kid"},
		{"kid not a string", func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims(t0))
			tok.Header["kid"] = 1
			s, _ := tok.SignedString(a)
			return s
		}, "missing kid"},
		{"expired", func() string {
			return sign(t, jwt.SigningMethodRS256, a, "k1", claims(t0.Add(-time.Hour-10*time.Second)))
		}, "expired"},
		{"expired just now, beyond the 5 s leeway", func() string {
			return sign(t, jwt.SigningMethodRS256, a, "k1", with(claims(t0), "exp", t0.Add(-6*time.Second).Unix()))
		}, "expired"},
		{"no exp", func() string { return sign(t, jwt.SigningMethodRS256, a, "k1", without(claims(t0), "exp")) }, "missing exp"},
		{"exp not a number", func() string {
			return sign(t, jwt.SigningMethodRS256, a, "k1", with(claims(t0), "exp", "tomorrow"))
		}, "claims"},
		{"not valid yet (nbf)", func() string {
			return sign(t, jwt.SigningMethodRS256, a, "k1", with(claims(t0), "nbf", t0.Add(time.Minute).Unix()))
		}, "not valid yet"},
		{"iat far in the future", func() string {
			return sign(t, jwt.SigningMethodRS256, a, "k1", claims(t0.Add(2*time.Minute)))
		}, "future"},
		{"no iat", func() string { return sign(t, jwt.SigningMethodRS256, a, "k1", without(claims(t0), "iat")) }, "iat"},
		{"issuer of another pool", func() string {
			return sign(t, jwt.SigningMethodRS256, a, "k1", with(claims(t0), "iss", "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_xyz"))
		}, "issuer"},
		{"issuer over http", func() string {
			return sign(t, jwt.SigningMethodRS256, a, "k1", with(claims(t0), "iss", "http://cognito-idp.us-east-1.amazonaws.com/"+testPool))
		}, "issuer"},
		{"issuer whose pool id has ours as prefix", func() string {
			return sign(t, jwt.SigningMethodRS256, a, "k1", with(claims(t0), "iss", testIss+"X"))
		}, "issuer"},
		{"issuer whose pool id ends with ours", func() string {
			return sign(t, jwt.SigningMethodRS256, a, "k1", with(claims(t0), "iss", "https://cognito-idp.us-east-1.amazonaws.com/eu-west-1_"+testPool))
		}, "issuer"},
		{"issuer with our pool id deeper in the path", func() string {
			return sign(t, jwt.SigningMethodRS256, a, "k1", with(claims(t0), "iss", "https://evil.example/x/"+testPool))
		}, "issuer"},
		{"issuer with a query", func() string {
			return sign(t, jwt.SigningMethodRS256, a, "k1", with(claims(t0), "iss", "https://evil.example?/"+testPool))
		}, "issuer"},
		{"issuer with a trailing slash", func() string {
			return sign(t, jwt.SigningMethodRS256, a, "k1", with(claims(t0), "iss", testIss+"/"))
		}, "issuer"},
		{"no issuer", func() string { return sign(t, jwt.SigningMethodRS256, a, "k1", without(claims(t0), "iss")) }, "issuer"},
		{"wrong audience", func() string {
			return sign(t, jwt.SigningMethodRS256, a, "k1", with(claims(t0), "aud", "otherclient"))
		}, "audience"},
		{"audience with ours as prefix", func() string {
			return sign(t, jwt.SigningMethodRS256, a, "k1", with(claims(t0), "aud", testClient+"X"))
		}, "audience"},
		{"no audience", func() string {
			// Cognito access tokens carry client_id instead of aud.
			c := without(claims(t0), "aud")
			c["client_id"] = testClient
			return sign(t, jwt.SigningMethodRS256, a, "k1", c)
		}, "aud"},
		{"access token", func() string {
			return sign(t, jwt.SigningMethodRS256, a, "k1", with(claims(t0), "token_use", "access"))
		}, "token_use"},
		{"no token_use", func() string {
			return sign(t, jwt.SigningMethodRS256, a, "k1", without(claims(t0), "token_use"))
		}, "token_use"},
	}
	a2 := newJWKSServer(t, jwks(testKey{"k1", &a.PublicKey}))
	v := newVerifier(t, a2, &clock{t: t0})
	if _, err := v.Verify(context.Background(), good); err != nil {
		t.Fatalf("the untampered token: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.token()
			got, err := v.Verify(context.Background(), raw)
			if !errors.Is(err, idtoken.ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
			if got != nil {
				t.Errorf("claims returned with the error: %v", got)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("err = %q, want a reason containing %q", err, tc.reason)
			}
			if len(raw) > 20 && strings.Contains(err.Error(), raw[len(raw)-20:]) {
				t.Errorf("error quotes the token: %q", err)
			}
		})
	}
	if n := a2.hits.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1 (no kid was unknown)", n)
	}
}

func TestUnknownKidRefetchesAtMostEvery30s(t *testing.T) {
	a, b := keys(t)
	srv := newJWKSServer(t, jwks(testKey{"k1", &a.PublicKey}))
	c := &clock{t: t0}
	v := newVerifier(t, srv, c)
	ctx := context.Background()
	verify := func(key *rsa.PrivateKey, kid string) error {
		_, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, key, kid, claims(c.Now())))
		return err
	}
	wantHits := func(step string, n int32) {
		t.Helper()
		if got := srv.hits.Load(); got != n {
			t.Fatalf("%s: JWKS fetched %d times, want %d", step, got, n)
		}
	}

	if err := verify(a, "k1"); err != nil {
		t.Fatalf("first token: %v", err)
	}
	wantHits("first use", 1)

	// An unknown kid within 30 s of the first fetch fetches nothing.
	c.Advance(10 * time.Second)
	if err := verify(b, "k2"); !errors.Is(err, idtoken.ErrInvalidToken) || !strings.Contains(err.Error(), "unknown kid") {
		t.Fatalf("unknown kid: err = %v", err)
	}
	wantHits("unknown kid 10 s after the first fetch", 1)

	// 30 s after it, an unknown kid refetches once.
	c.Advance(20 * time.Second)
	if err := verify(b, "k2"); !errors.Is(err, idtoken.ErrInvalidToken) || !strings.Contains(err.Error(), "unknown kid") {
		t.Fatalf("unknown kid: err = %v", err)
	}
	wantHits("unknown kid 30 s after the first fetch", 2)

	// A flood of made-up kids within 30 s fetches nothing more, and known
	// kids keep working.
	for i := range 50 {
		c.Advance(500 * time.Millisecond)
		if err := verify(b, "random-"+string(rune('a'+i%26))); !errors.Is(err, idtoken.ErrInvalidToken) {
			t.Fatalf("made-up kid %d: err = %v", i, err)
		}
	}
	if err := verify(a, "k1"); err != nil {
		t.Fatalf("known kid during the flood: %v", err)
	}
	wantHits("flood", 2)

	// The pool rotates in k2. Once 30 s have passed since the last fetch, a
	// token signed with it triggers a refetch and verifies.
	srv.body.Store(jwks(testKey{"k1", &a.PublicKey}, testKey{"k2", &b.PublicKey}))
	c.Advance(5 * time.Second) // 30 s after the last fetch
	if err := verify(b, "k2"); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	wantHits("after 30 s", 3)
	if err := verify(b, "k2"); err != nil {
		t.Fatalf("rotated key, cached: %v", err)
	}
	wantHits("cached rotated key", 3)
}

func TestConcurrentFirstUseFetchesOnce(t *testing.T) {
	a, _ := keys(t)
	srv := newJWKSServer(t, jwks(testKey{"k1", &a.PublicKey}))
	v := newVerifier(t, srv, &clock{t: t0})
	tok := sign(t, jwt.SigningMethodRS256, a, "k1", claims(t0))
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Verify: %v", err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1", n)
	}
}

func TestJWKSProblems(t *testing.T) {
	a, _ := keys(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	good := jwks(testKey{"k1", &a.PublicKey})
	var goodDoc map[string][]map[string]string
	json.Unmarshal(good, &goodDoc)
	withKeys := func(ks ...map[string]string) []byte {
		b, _ := json.Marshal(map[string]any{"keys": ks})
		return b
	}
	edit := func(k, v string) map[string]string {
		m := map[string]string{}
		for kk, vv := range goodDoc["keys"][0] {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name   string
		status int
		body   []byte
		ok     bool
	}{
		{"good", 200, good, true},
		{"good beside an EC key", 200, withKeys(map[string]string{"kty": "EC", "kid": "e1", "crv": "P-256"}, goodDoc["keys"][0]), true},
		{"no alg or use", 200, withKeys(edit("alg", ""), edit("use", "")), true},
		{"padded base64", 200, withKeys(edit("e", "AQAB====")), true},
		{"server error", 500, good, false},
		{"not JSON", 200, []byte("<html>"), false},
		{"no keys", 200, []byte(`{"keys":[]}`), false},
		{"only an EC key", 200, withKeys(map[string]string{"kty": "EC", "kid": "k1"}), false},
		{"encryption key", 200, withKeys(edit("use", "enc")), false},
		{"RS512 key", 200, withKeys(edit("alg", "RS512")), false},
		{"modulus not base64", 200, withKeys(edit("n", "***")), false},
		{"exponent even", 200, withKeys(edit("e", "Ag")), false},
		{"short key", 200, jwks(testKey{"k1", &small.PublicKey}), false},
	}
	tok := sign(t, jwt.SigningMethodRS256, a, "k1", claims(t0))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, tc.body)
			srv.status.Store(int32(tc.status))
			v := newVerifier(t, srv, &clock{t: t0})
			_, err := v.Verify(context.Background(), tok)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("Verify: %v", err)
			case !tc.ok && err == nil:
				t.Fatal("Verify accepted a token against an unusable JWKS")
			case !tc.ok && errors.Is(err, idtoken.ErrInvalidToken):
				t.Fatalf("err = %v: a JWKS failure is not the token's fault", err)
			}
		})
	}
}

func TestFailedFirstFetchIsRetriedAfterASecond(t *testing.T) {
	a, _ := keys(t)
	srv := newJWKSServer(t, jwks(testKey{"k1", &a.PublicKey}))
	srv.status.Store(http.StatusServiceUnavailable)
	c := &clock{t: t0}
	v := newVerifier(t, srv, c)
	tok := sign(t, jwt.SigningMethodRS256, a, "k1", claims(t0))
	for range 10 {
		if _, err := v.Verify(context.Background(), tok); err == nil || errors.Is(err, idtoken.ErrInvalidToken) {
			t.Fatalf("err = %v, want a fetch error", err)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times within a second, want 1", n)
	}
	srv.status.Store(http.StatusOK)
	c.Advance(time.Second)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("after the endpoint recovered: %v", err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2", n)
	}
}

func TestCanceledCallerDoesNotSpoilTheFetch(t *testing.T) {
	a, _ := keys(t)
	srv := newJWKSServer(t, jwks(testKey{"k1", &a.PublicKey}))
	v := newVerifier(t, srv, &clock{t: t0})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, a, "k1", claims(t0))); err != nil {
		t.Fatalf("Verify with a canceled context: %v", err)
	}
}

func TestNewVerifierValidatesConfig(t *testing.T) {
	ok := idtoken.Config{UserPoolID: testPool, ClientID: testClient, JWKSURL: "http://127.0.0.1:5000/" + testPool + "/.well-known/jwks.json"}
	tests := []struct {
		name string
		edit func(*idtoken.Config)
		ok   bool
	}{
		{"ok", func(*idtoken.Config) {}, true},
		{"no pool", func(c *idtoken.Config) { c.UserPoolID = "" }, false},
		{"pool without region", func(c *idtoken.Config) { c.UserPoolID = "abc" }, false},
		{"pool with a slash", func(c *idtoken.Config) { c.UserPoolID = "us-east-1_abc/x" }, false},
		{"no client", func(c *idtoken.Config) { c.ClientID = "" }, false},
		{"no JWKS URL", func(c *idtoken.Config) { c.JWKSURL = "" }, false},
		{"relative JWKS URL", func(c *idtoken.Config) { c.JWKSURL = "/jwks.json" }, false},
		{"file JWKS URL", func(c *idtoken.Config) { c.JWKSURL = "file:///etc/jwks.json" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			_, err := idtoken.NewVerifier(c)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestJWKSURL(t *testing.T) {
	for _, tc := range []struct{ endpoint, want string }{
		{"http://127.0.0.1:5000", "http://127.0.0.1:5000/us-east-1_abc/.well-known/jwks.json"},
		{"http://127.0.0.1:5000/", "http://127.0.0.1:5000/us-east-1_abc/.well-known/jwks.json"},
		{"https://cognito-idp.us-east-1.amazonaws.com", "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc/.well-known/jwks.json"},
	} {
		if got := idtoken.JWKSURL(tc.endpoint, testPool); got != tc.want {
			t.Errorf("JWKSURL(%q) = %q, want %q", tc.endpoint, got, tc.want)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	a, _ := keys(b)
	srv := newJWKSServer(b, jwks(testKey{"k1", &a.PublicKey}))
	v := newVerifier(b, srv, &clock{t: t0})
	tok := sign(b, jwt.SigningMethodRS256, a, "k1", claims(t0))
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		b.Fatalf("JWKS fetched %d times, want 1", n)
	}
}
