package crypto

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/tessera-saas/tessera/internal/platform/access"
)

// KMS is the part of the KMS API envelope encryption uses. *kms.Client
// satisfies it.
type KMS interface {
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, optFns ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// Key is a tenant's KMS key and the credentials to use it with.
type Key struct {
	TenantID string
	// KeyID is the key ARN (or alias) of the tenant's customer managed key.
	KeyID string
	// Credentials are tenant-scoped session credentials, used for this call
	// only; nil means the client's own. Pass a cached provider (such as
	// access.Credentials hands out): the SDK calls Retrieve on every request.
	Credentials aws.CredentialsProvider
}

// Field locates a sealed value. All of it is bound into the AEAD associated
// data.
type Field struct {
	TenantID, Table, PK, SK, Attribute string
}

func (f Field) String() string {
	return f.Table + "[" + f.PK + "/" + f.SK + "]." + f.Attribute
}

var (
	// ErrIntegrity means the sealed value does not belong at this field of
	// this tenant, or was altered or truncated. No plaintext is returned.
	ErrIntegrity = errors.New("crypto: sealed value failed integrity check")
	// ErrUnsupportedVersion means the sealed value has an unknown format
	// version. It wraps ErrIntegrity.
	ErrUnsupportedVersion = fmt.Errorf("%w: unsupported format version", ErrIntegrity)
	// ErrKeyUnavailable means KMS refused the tenant key because of its
	// state: disabled, pending deletion, deleted or unavailable. Once a
	// tenant is offboarded, this is what reading its data returns (after
	// cached data keys age out).
	ErrKeyUnavailable = errors.New("crypto: tenant key unavailable")
	// ErrInvalidInput means the Key or Field is incomplete or inconsistent.
	// No KMS call was made.
	ErrInvalidInput = errors.New("crypto: invalid key or field")
)

// Cache defaults. See Envelope for the arithmetic behind them.
const (
	DefaultMaxAge     = 5 * time.Minute
	DefaultMaxUses    = 10_000
	DefaultMaxEntries = 10_000
)

// Stats counts what an Envelope did since it was made.
type Stats struct {
	// GenerateDataKeyCalls and DecryptCalls count KMS requests made
	// (successful or not).
	GenerateDataKeyCalls, DecryptCalls int64
	// SealHits and OpenHits count data keys served from the caches; misses
	// count the calls that had to ask KMS.
	SealHits, SealMisses int64
	OpenHits, OpenMisses int64
}

// Option configures an Envelope.
type Option func(*config)

type config struct {
	maxAge     time.Duration
	maxUses    int
	maxEntries int
	now        func() time.Time
}

// WithMaxAge bounds how long a data key is used for sealing and kept for
// opening (default 5 min). It is also how long a warm process can still
// open values after the tenant key is disabled. Non-positive values keep
// the default.
func WithMaxAge(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.maxAge = d
		}
	}
}

// WithMaxUses bounds how many values one data key seals (default 10,000).
// Non-positive values keep the default.
func WithMaxUses(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxUses = n
		}
	}
}

// WithMaxEntries bounds each cache, sealing and opening, to n data keys
// (default 10,000; least recently used go first). Non-positive values keep
// the default.
func WithMaxEntries(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxEntries = n
		}
	}
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// Envelope seals and opens field values under tenant keys. It is safe for
// concurrent use; build one per process, at cold start.
//
// Caching: sealing reuses one data key per (tenant, key) for MaxAge or
// MaxUses seals, whichever comes first: one GenerateDataKey per tenant per
// MaxAge (or per MaxUses seals) per process. Opening caches decrypted data keys by
// (tenant, key, SHA-256 of the encrypted data key) for MaxAge; a data key
// this Envelope generated is put there too, so reading back what the process
// wrote makes no Decrypt call. Values written by other processes carry their
// data keys, so a reader makes one Decrypt per distinct data key it meets
// per MaxAge. The calls therefore grow with processes times the tenants each
// one serves; the scale model (`tessera-bench -scale`, README "Scale model")
// simulates realistic traffic against the KMS quota, and Stats gives the hit
// rates to check the real spread against.
type Envelope struct {
	kms   KMS
	seal  *keyCache
	open  *keyCache
	gdk   atomic.Int64 // GenerateDataKey calls
	decry atomic.Int64 // Decrypt calls
}

// NewEnvelope returns an Envelope that calls client.
func NewEnvelope(client KMS, opts ...Option) *Envelope {
	c := config{maxAge: DefaultMaxAge, maxUses: DefaultMaxUses, maxEntries: DefaultMaxEntries, now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	return &Envelope{
		kms:  client,
		seal: newKeyCache(c.maxAge, c.maxUses, c.maxEntries, c.now),
		open: newKeyCache(c.maxAge, 0, c.maxEntries, c.now),
	}
}

// Stats returns the counters so far.
func (e *Envelope) Stats() Stats {
	s := Stats{GenerateDataKeyCalls: e.gdk.Load(), DecryptCalls: e.decry.Load()}
	s.SealHits, s.SealMisses = e.seal.stats()
	s.OpenHits, s.OpenMisses = e.open.stats()
	return s
}

// Seal encrypts plaintext for field f of tenant k.TenantID under a data key
// of k.KeyID.
func (e *Envelope) Seal(ctx context.Context, k Key, f Field, plaintext []byte) ([]byte, error) {
	if err := validate(k, f); err != nil {
		return nil, fmt.Errorf("seal %s: %w", f, err)
	}
	ck := cacheKey{tenantID: k.TenantID, keyID: k.KeyID}
	dk, ok := e.seal.lookup(ck)
	if !ok {
		var err error
		dk, err = e.seal.get(ctx, ck, func(ctx context.Context) (*dataKey, error) {
			return e.generate(ctx, k)
		})
		if err != nil {
			return nil, fmt.Errorf("seal %s: %w", f, err)
		}
	}
	return sealWith(dk, version2, f, plaintext), nil
}

// sealWith seals plaintext in format v (Seal writes version2; version1 only
// in tests, which check that such values keep opening).
func sealWith(dk *dataKey, v byte, f Field, plaintext []byte) []byte {
	out := make([]byte, 0, headerFixed+len(dk.edk)+dk.aead.Overhead()+len(plaintext))
	out = appendHeader(out, v, dk.edk)
	return dk.aead.Seal(out, nil, plaintext, associatedData(out, f))
}

// Open decrypts a value Seal produced for the same field of the same tenant.
// A value that was altered, truncated, or sealed for another field, item or
// tenant fails with ErrIntegrity.
func (e *Envelope) Open(ctx context.Context, k Key, f Field, value []byte) ([]byte, error) {
	if err := validate(k, f); err != nil {
		return nil, fmt.Errorf("open %s: %w", f, err)
	}
	s, err := parse(value)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", f, err)
	}
	ck := cacheKey{tenantID: k.TenantID, keyID: k.KeyID, edkHash: sha256.Sum256(s.edk)}
	dk, ok := e.open.lookup(ck)
	if !ok {
		dk, err = e.open.get(ctx, ck, func(ctx context.Context) (*dataKey, error) {
			return e.decrypt(ctx, k, s.edk)
		})
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", f, err)
		}
	}
	plaintext, err := dk.aead.Open(nil, nil, s.body, associatedData(s.header, f))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", f, ErrIntegrity)
	}
	return plaintext, nil
}

func validate(k Key, f Field) error {
	switch {
	case k.TenantID == "" || k.KeyID == "":
		return fmt.Errorf("%w: key needs a tenant id and a key id", ErrInvalidInput)
	case k.TenantID != f.TenantID:
		return fmt.Errorf("%w: key of tenant %q used for a field of tenant %q", ErrInvalidInput, k.TenantID, f.TenantID)
	case f.Table == "" || f.PK == "" || f.Attribute == "":
		return fmt.Errorf("%w: field needs a table, a partition key and an attribute", ErrInvalidInput)
	}
	return nil
}

func (e *Envelope) optFns(k Key) []func(*kms.Options) {
	if k.Credentials == nil {
		return nil
	}
	creds := k.Credentials
	return []func(*kms.Options){func(o *kms.Options) { o.Credentials = creds }}
}

func (e *Envelope) generate(ctx context.Context, k Key) (*dataKey, error) {
	e.gdk.Add(1)
	out, err := e.kms.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(k.KeyID),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: access.EncryptionContext(k.TenantID),
	}, e.optFns(k)...)
	if err != nil {
		return nil, fmt.Errorf("generate data key: %w", classify(err))
	}
	if len(out.CiphertextBlob) == 0 || len(out.CiphertextBlob) > maxEDK {
		return nil, fmt.Errorf("generate data key: encrypted data key of %d bytes, want 1..%d", len(out.CiphertextBlob), maxEDK)
	}
	aead, err := newAEAD(out.Plaintext)
	if err != nil {
		return nil, fmt.Errorf("generate data key: %w", err)
	}
	dk := &dataKey{aead: aead, edk: out.CiphertextBlob}
	// What this process seals, it can open without asking KMS again.
	e.open.put(cacheKey{tenantID: k.TenantID, keyID: k.KeyID, edkHash: sha256.Sum256(dk.edk)}, &dataKey{aead: aead})
	return dk, nil
}

func (e *Envelope) decrypt(ctx context.Context, k Key, edk []byte) (*dataKey, error) {
	e.decry.Add(1)
	out, err := e.kms.Decrypt(ctx, &kms.DecryptInput{
		KeyId:             aws.String(k.KeyID),
		CiphertextBlob:    edk,
		EncryptionContext: access.EncryptionContext(k.TenantID),
	}, e.optFns(k)...)
	if err != nil {
		return nil, fmt.Errorf("decrypt data key: %w", classify(err))
	}
	aead, err := newAEAD(out.Plaintext)
	if err != nil {
		return nil, fmt.Errorf("decrypt data key: %w", err)
	}
	return &dataKey{aead: aead}, nil
}

// newAEAD makes the AES-256-GCM AEAD of a data key; it draws a random nonce
// per Seal and puts it in front of the ciphertext.
func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != dataKeySize {
		return nil, fmt.Errorf("data key of %d bytes, want %d", len(key), dataKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("new cipher: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("new gcm: %w", err)
	}
	return aead, nil
}

// classify marks KMS errors that callers act on: a ciphertext KMS rejects
// (wrong key, wrong encryption context, altered) is ErrIntegrity; a key
// KMS cannot use because of its state is ErrKeyUnavailable.
func classify(err error) error {
	var (
		invalid   *types.InvalidCiphertextException
		incorrect *types.IncorrectKeyException
		disabled  *types.DisabledException
		state     *types.KMSInvalidStateException
		notFound  *types.NotFoundException
		unavail   *types.KeyUnavailableException
	)
	switch {
	case errors.As(err, &invalid), errors.As(err, &incorrect):
		return fmt.Errorf("%w: %w", ErrIntegrity, err)
	case errors.As(err, &disabled), errors.As(err, &state), errors.As(err, &notFound), errors.As(err, &unavail):
		return fmt.Errorf("%w: %w", ErrKeyUnavailable, err)
	}
	return err
}
