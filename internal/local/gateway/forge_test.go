package gateway_test

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/tessera-saas/tessera/internal/local/emulator"
)

// motoKey is the private key moto signs every user pool's tokens with (it
// ships in moto's package). With it the attack tests forge tokens that pass
// the signature check, so each of the other checks is tested on its own.
type motoKey struct{ n, d *big.Int }

func loadMotoKey(t *testing.T) motoKey {
	t.Helper()
	root, err := emulator.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	matches, _ := filepath.Glob(filepath.Join(root, ".venv", "lib", "python3*", "site-packages", "moto", "cognitoidp", "resources", "jwks-private.json.gz"))
	if len(matches) == 0 {
		t.Fatal("moto's jwks-private.json.gz not found under .venv: run make tools")
	}
	f, err := os.Open(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var jwk struct{ N, D string }
	if err := json.NewDecoder(zr).Decode(&jwk); err != nil {
		t.Fatal(err)
	}
	dec := func(s string) *big.Int {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return new(big.Int).SetBytes(b)
	}
	return motoKey{n: dec(jwk.N), d: dec(jwk.D)}
}

// sign makes an RS256 JWT (RSASSA-PKCS1-v1_5 with SHA-256, computed
// directly: moto's JWK has no primes, which crypto/rsa needs).
func (k motoKey) sign(t *testing.T, header, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	size := (k.n.BitLen() + 7) / 8
	em := make([]byte, size)
	em[1] = 1
	tLen := len(prefix) + len(sum)
	for i := 2; i < size-tLen-1; i++ {
		em[i] = 0xff
	}
	copy(em[size-tLen:], append(prefix, sum[:]...))
	sig := new(big.Int).Exp(new(big.Int).SetBytes(em), k.d, k.n).FillBytes(make([]byte, size))
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}
