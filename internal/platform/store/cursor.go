package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// A cursor is opaque to clients: base64url of "v1|<entity>|<last sort key>|<mac>"
// where mac = HMAC-SHA256(cursor key, tenant|entity|sort key), truncated. The
// tenant is bound in through the MAC and never carried, so a cursor replayed
// by another tenant, edited, or made for another list fails with
// ErrInvalidCursor. Even a forged cursor could not reach another tenant: the
// partition key of the query is always rebuilt from the caller's tenant.
const cursorVersion = "v1"

const macLen = 16

// CursorKey is the key that authenticates list cursors, loaded on first use
// and then kept for the life of the process: in a deployed stage, read from
// Secrets Manager by the composition root (internal/wire), so that no AWS
// call is made at cold start for a key only list requests need. A failed
// load is not kept: the next use tries again. Safe for concurrent use; one
// CursorKey is shared by every store and catalog of a process.
type CursorKey struct {
	load func(context.Context) ([]byte, error)
	mu   sync.Mutex
	key  []byte
}

// NewCursorKey returns a key that load reads once, on first use. load must
// not return an empty key.
func NewCursorKey(load func(context.Context) ([]byte, error)) *CursorKey {
	return &CursorKey{load: load}
}

// errEmptyCursorKey means the loaded key is empty.
var errEmptyCursorKey = errors.New("store: cursor key is empty")

func (k *CursorKey) get(ctx context.Context) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key != nil {
		return k.key, nil
	}
	key, err := k.load(ctx)
	if err == nil && len(key) == 0 {
		err = errEmptyCursorKey
	}
	if err != nil {
		return nil, fmt.Errorf("load cursor key: %w", err)
	}
	k.key = append([]byte(nil), key...)
	return k.key, nil
}

// cursors encodes and authenticates list cursors, with a fixed key or with
// a CursorKey (which wins when set).
type cursors struct {
	key  []byte
	lazy *CursorKey
}

func (s cursors) macKey(ctx context.Context) ([]byte, error) {
	if s.lazy != nil {
		return s.lazy.get(ctx)
	}
	return s.key, nil
}

func (s cursors) encodeCursor(ctx context.Context, tenantID, entity, lastSK string) (string, error) {
	key, err := s.macKey(ctx)
	if err != nil {
		return "", err
	}
	body := cursorVersion + "|" + entity + "|" + lastSK
	mac := cursorMAC(key, tenantID, entity, lastSK)
	return base64.RawURLEncoding.EncodeToString([]byte(body + "|" + base64.RawURLEncoding.EncodeToString(mac))), nil
}

func (s cursors) decodeCursor(ctx context.Context, tenantID, entity, cursor string) (string, error) {
	if len(cursor) > 512 {
		return "", fmt.Errorf("%w: too long", ErrInvalidCursor)
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", fmt.Errorf("%w: not base64url", ErrInvalidCursor)
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 4 || parts[0] != cursorVersion || parts[1] != entity || parts[2] == "" {
		return "", fmt.Errorf("%w: malformed", ErrInvalidCursor)
	}
	key, err := s.macKey(ctx)
	if err != nil {
		return "", err
	}
	got, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil || !hmac.Equal(got, cursorMAC(key, tenantID, entity, parts[2])) {
		return "", fmt.Errorf("%w: not issued to this tenant for this list", ErrInvalidCursor)
	}
	return parts[2], nil
}

func cursorMAC(key []byte, tenantID, entity, lastSK string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range []string{tenantID, entity, lastSK} {
		fmt.Fprintf(m, "%d:%s|", len(p), p)
	}
	return m.Sum(nil)[:macLen]
}

// WithCursorKeySource makes the catalog authenticate its list cursors with
// k (see CursorKey).
func (c *Catalog) WithCursorKeySource(k *CursorKey) *Catalog {
	c.cursors = cursors{key: c.cursors.key, lazy: k}
	return c
}
