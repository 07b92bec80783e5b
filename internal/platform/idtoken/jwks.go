package idtoken

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
)

const (
	// maxJWKSBytes bounds a JWKS response; Cognito's is about 1 KB.
	maxJWKSBytes = 1 << 20
	// minKeyBits is the smallest RSA modulus accepted; Cognito's keys have
	// 2048 bits.
	minKeyBits = 2048
)

// keySet is one fetched JWKS: the usable RSA keys by kid.
type keySet struct {
	keys map[string]*rsa.PublicKey
}

// fetchError means the JWKS could not be fetched or read.
type fetchError struct{ err error }

func (e *fetchError) Error() string { return "idtoken: fetch JWKS: " + e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// key returns the key with the given kid, fetching the JWKS on first use and
// refetching it when kid is unknown, at most once per refetchInterval.
// Lookups of known kids take no lock.
func (v *Verifier) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if ks := v.keys.Load(); ks != nil {
		if k, ok := ks.keys[kid]; ok {
			return k, nil
		}
	}
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	ks := v.keys.Load() // another caller may have fetched while we waited
	if ks != nil {
		if k, ok := ks.keys[kid]; ok {
			return k, nil
		}
	}
	wait := refetchInterval
	if ks == nil {
		wait = retryInterval
	}
	now := v.now()
	if !v.lastFetch.IsZero() && now.Sub(v.lastFetch) < wait {
		if ks == nil {
			return nil, &fetchError{errors.New("no key set yet; last fetch failed")}
		}
		return nil, errUnknownKid
	}
	v.lastFetch = now
	// The fetch serves every caller, so one caller's cancellation must not
	// abort it.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	fresh, err := v.fetch(fctx)
	if err != nil {
		return nil, &fetchError{err}
	}
	v.keys.Store(fresh)
	if k, ok := fresh.keys[kid]; ok {
		return k, nil
	}
	return nil, errUnknownKid
}

// fetch gets and parses the JWKS.
func (v *Verifier) fetch(ctx context.Context) (*keySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.jwksURL, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", v.jwksURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s: status %d", v.jwksURL, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", v.jwksURL, err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("read %s: larger than %d bytes", v.jwksURL, maxJWKSBytes)
	}
	ks, err := parseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", v.jwksURL, err)
	}
	return ks, nil
}

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// parseJWKS keeps the RSA signing keys usable with RS256 and skips the rest:
// other key types, encryption keys, other algorithms, keys without a kid,
// malformed or short keys, and a repeated kid. A set with no usable key is an
// error that says why each key was skipped.
func parseJWKS(body []byte) (*keySet, error) {
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode JWKS: %w", err)
	}
	ks := &keySet{keys: make(map[string]*rsa.PublicKey, len(doc.Keys))}
	var skipped []error
	for i, k := range doc.Keys {
		if k.Kty != "RSA" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "RS256") {
			skipped = append(skipped, fmt.Errorf("key %d: not an RS256 signing key", i))
			continue
		}
		if k.Kid == "" {
			skipped = append(skipped, fmt.Errorf("key %d: no kid", i))
			continue
		}
		if _, dup := ks.keys[k.Kid]; dup {
			skipped = append(skipped, fmt.Errorf("key %d: repeated kid", i))
			continue
		}
		pub, err := rsaKey(k.N, k.E)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		ks.keys[k.Kid] = pub
	}
	if len(ks.keys) == 0 {
		if len(skipped) == 0 {
			return nil, errors.New("JWKS has no keys")
		}
		return nil, fmt.Errorf("no usable RSA signing key: %w", errors.Join(skipped...))
	}
	return ks, nil
}

// rsaKey builds a public key from the base64url modulus and exponent.
func rsaKey(n64, e64 string) (*rsa.PublicKey, error) {
	nb, err := b64(n64)
	if err != nil || len(nb) == 0 {
		return nil, fmt.Errorf("modulus n is not base64url: %w", errOrEmpty(err))
	}
	eb, err := b64(e64)
	if err != nil || len(eb) == 0 {
		return nil, fmt.Errorf("exponent e is not base64url: %w", errOrEmpty(err))
	}
	n := new(big.Int).SetBytes(nb)
	if n.BitLen() < minKeyBits {
		return nil, fmt.Errorf("modulus has %d bits, want at least %d", n.BitLen(), minKeyBits)
	}
	e := new(big.Int).SetBytes(eb)
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
		return nil, errors.New("exponent e out of range")
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

// b64 decodes base64url, with or without padding.
func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func errOrEmpty(err error) error {
	if err != nil {
		return err
	}
	return errors.New("empty")
}
