package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// A cursor is opaque to clients: base64url of "v1|<entity>|<last sort key>|<mac>"
// where mac = HMAC-SHA256(cursor key, tenant|entity|sort key), truncated. The
// tenant is bound in through the MAC and never carried, so a cursor replayed
// by another tenant, edited, or made for another list fails with
// ErrInvalidCursor. Even a forged cursor could not reach another tenant: the
// partition key of the query is always rebuilt from the caller's tenant.
const cursorVersion = "v1"

const macLen = 16

// cursors encodes and authenticates list cursors.
type cursors struct{ key []byte }

func (s cursors) encodeCursor(tenantID, entity, lastSK string) string {
	body := cursorVersion + "|" + entity + "|" + lastSK
	mac := s.cursorMAC(tenantID, entity, lastSK)
	return base64.RawURLEncoding.EncodeToString([]byte(body + "|" + base64.RawURLEncoding.EncodeToString(mac)))
}

func (s cursors) decodeCursor(tenantID, entity, cursor string) (string, error) {
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
	got, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil || !hmac.Equal(got, s.cursorMAC(tenantID, entity, parts[2])) {
		return "", fmt.Errorf("%w: not issued to this tenant for this list", ErrInvalidCursor)
	}
	return parts[2], nil
}

func (s cursors) cursorMAC(tenantID, entity, lastSK string) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range []string{tenantID, entity, lastSK} {
		fmt.Fprintf(m, "%d:%s|", len(p), p)
	}
	return m.Sum(nil)[:macLen]
}
