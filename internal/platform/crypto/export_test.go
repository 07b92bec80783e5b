package crypto

import "context"

// SealVersion1 seals as Seal did before version2: a value in the format
// that binds the physical table, for the tests that check such values keep
// opening (and only in their table).
func SealVersion1(e *Envelope, ctx context.Context, k Key, f Field, plaintext []byte) ([]byte, error) {
	if err := validate(k, f); err != nil {
		return nil, err
	}
	ck := cacheKey{tenantID: k.TenantID, keyID: k.KeyID}
	dk, err := e.seal.get(ctx, ck, func(ctx context.Context) (*dataKey, error) { return e.generate(ctx, k) })
	if err != nil {
		return nil, err
	}
	return sealWith(dk, version1, f, plaintext), nil
}
