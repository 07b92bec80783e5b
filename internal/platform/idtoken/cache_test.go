package idtoken_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tessera-saas/tessera/internal/platform/idtoken"
)

// countingVerifier stands in for the signature check: it counts calls and
// accepts the tokens "good-*", expiring at exp.
type countingVerifier struct {
	calls atomic.Int64
	exp   time.Time
	err   error // when set, every call fails with it
}

func (v *countingVerifier) Verify(_ context.Context, raw string) (map[string]string, error) {
	v.calls.Add(1)
	if v.err != nil {
		return nil, v.err
	}
	if !strings.HasPrefix(raw, "good-") {
		return nil, errors.New("idtoken: invalid token: stand-in")
	}
	return map[string]string{"sub": raw, "exp": v.exp.UTC().Format("Mon Jan 02 15:04:05 UTC 2006")}, nil
}

func TestCache(t *testing.T) {
	ctx := context.Background()
	t.Run("a token is verified once while fresh", func(t *testing.T) {
		c := &clock{t: t0}
		v := &countingVerifier{exp: t0.Add(time.Hour)}
		cache := idtoken.NewCache(v, 5*time.Minute, 100, idtoken.WithCacheClock(c.Now))
		for i := 0; i < 5; i++ {
			if got, err := cache.Verify(ctx, "good-a"); err != nil || got["sub"] != "good-a" {
				t.Fatalf("verify %d: %v %v", i, got, err)
			}
		}
		if _, err := cache.Verify(ctx, "good-b"); err != nil {
			t.Fatal(err)
		}
		if got := v.calls.Load(); got != 2 {
			t.Fatalf("verifier called %d times for 2 distinct tokens, want 2", got)
		}
		if st := cache.Stats(); st.Hits != 4 || st.Loads != 2 {
			t.Fatalf("stats %+v, want 4 hits and 2 loads", st)
		}
	})
	t.Run("a token is kept for at most the TTL", func(t *testing.T) {
		c := &clock{t: t0}
		v := &countingVerifier{exp: t0.Add(time.Hour)}
		cache := idtoken.NewCache(v, 5*time.Minute, 100, idtoken.WithCacheClock(c.Now))
		cache.Verify(ctx, "good-a")
		c.Advance(5*time.Minute - time.Second)
		cache.Verify(ctx, "good-a")
		c.Advance(2 * time.Second)
		cache.Verify(ctx, "good-a")
		if got := v.calls.Load(); got != 2 {
			t.Fatalf("verifier called %d times, want 2 (once, then again after the TTL)", got)
		}
	})
	t.Run("a token expiring within the TTL is kept only until its exp", func(t *testing.T) {
		c := &clock{t: t0}
		v := &countingVerifier{exp: t0.Add(time.Minute)}
		cache := idtoken.NewCache(v, 5*time.Minute, 100, idtoken.WithCacheClock(c.Now))
		cache.Verify(ctx, "good-a")
		c.Advance(time.Minute)
		cache.Verify(ctx, "good-a")
		if got := v.calls.Load(); got != 2 {
			t.Fatalf("verifier called %d times, want 2 (a token past exp is never served from the cache)", got)
		}
	})
	t.Run("a rejected token is not cached", func(t *testing.T) {
		v := &countingVerifier{exp: t0.Add(time.Hour)}
		cache := idtoken.NewCache(v, 5*time.Minute, 100, idtoken.WithCacheClock((&clock{t: t0}).Now))
		for i := 0; i < 3; i++ {
			if _, err := cache.Verify(ctx, "bad-token"); err == nil {
				t.Fatal("bad token accepted")
			}
		}
		if got := v.calls.Load(); got != 3 {
			t.Fatalf("verifier called %d times for 3 bad tokens, want 3", got)
		}
	})
	t.Run("a key fetch failure is not cached", func(t *testing.T) {
		v := &countingVerifier{err: errors.New("idtoken: fetch JWKS: connection refused")}
		cache := idtoken.NewCache(v, 5*time.Minute, 100, idtoken.WithCacheClock((&clock{t: t0}).Now))
		cache.Verify(ctx, "good-a")
		v.err = nil
		v.exp = t0.Add(time.Hour)
		if _, err := cache.Verify(ctx, "good-a"); err != nil {
			t.Fatalf("after the keys came back: %v", err)
		}
	})
	t.Run("empty and oversized tokens never reach the verifier", func(t *testing.T) {
		v := &countingVerifier{exp: t0.Add(time.Hour)}
		cache := idtoken.NewCache(v, 5*time.Minute, 100)
		for _, raw := range []string{"", "good-" + strings.Repeat("x", idtoken.MaxTokenBytes)} {
			if _, err := cache.Verify(ctx, raw); !errors.Is(err, idtoken.ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
		}
		if v.calls.Load() != 0 {
			t.Fatal("verifier called")
		}
	})
}

// TestCacheInFrontOfTheVerifier runs the cache on the real Verifier: a token
// signed by another key is refused every time, the valid one is verified
// once, and the claims are the Verifier's.
func TestCacheInFrontOfTheVerifier(t *testing.T) {
	a, other := keys(t)
	srv := newJWKSServer(t, jwks(testKey{"k1", &a.PublicKey}))
	c := &clock{t: t0}
	cache := idtoken.NewCache(newVerifier(t, srv, c), idtoken.CacheTTL, 100, idtoken.WithCacheClock(c.Now))
	good := sign(t, jwt.SigningMethodRS256, a, "k1", claims(t0))
	forged := sign(t, jwt.SigningMethodRS256, other, "k1", claims(t0))
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		got, err := cache.Verify(ctx, good)
		if err != nil || got["custom:tenantId"] != "t-1" {
			t.Fatalf("good token: %v %v", got, err)
		}
		if _, err := cache.Verify(ctx, forged); !errors.Is(err, idtoken.ErrInvalidToken) {
			t.Fatalf("forged token: err = %v, want ErrInvalidToken", err)
		}
	}
	if st := cache.Stats(); st.Hits != 2 || st.Loads != 4 {
		t.Fatalf("stats %+v, want 2 hits (the good token) and 4 loads (1 good, 3 forged)", st)
	}
	// Past exp, even inside the TTL, the token is checked again and refused.
	c.Advance(time.Hour + time.Minute)
	if _, err := cache.Verify(ctx, good); !errors.Is(err, idtoken.ErrInvalidToken) {
		t.Fatalf("expired token: err = %v, want ErrInvalidToken", err)
	}
}

// BenchmarkCacheHit is the per-request cost of verifying a token with a warm
// cache, as the api and tenants functions pay it on every request (the
// target is under 50 µs; an RSA verification is BenchmarkVerify).
func BenchmarkCacheHit(b *testing.B) {
	a, _ := keys(b)
	srv := newJWKSServer(b, jwks(testKey{"k1", &a.PublicKey}))
	c := &clock{t: t0}
	cache := idtoken.NewCache(newVerifier(b, srv, c), idtoken.CacheTTL, 10000, idtoken.WithCacheClock(c.Now))
	tok := sign(b, jwt.SigningMethodRS256, a, "k1", claims(t0))
	ctx := context.Background()
	if _, err := cache.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cache.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	if st := cache.Stats(); st.Loads != 1 {
		b.Fatalf("%d loads, want 1", st.Loads)
	}
}
