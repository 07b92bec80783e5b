package crypto_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/tessera-saas/tessera/internal/local/emulator"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// tenant is a tenant with its own key on local-kms.
type tenant struct {
	id  string
	key crypto.Key
}

func newTenant(t testing.TB, c *kms.Client) tenant {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	id := "t-test-" + hex.EncodeToString(b)
	out, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{
		Description: aws.String("crypto test " + id),
		Tags:        []types.Tag{{TagKey: aws.String(access.TenantTag), TagValue: aws.String(id)}},
	})
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	return tenant{id: id, key: crypto.Key{TenantID: id, KeyID: aws.ToString(out.KeyMetadata.Arn)}}
}

func (tn tenant) field(attr string) crypto.Field {
	return crypto.Field{TenantID: tn.id, Table: "tessera-pooled", PK: tn.id + "#CUSTOMER", SK: "c-01", Attribute: attr}
}

func setup(t testing.TB) (*kms.Client, tenant) {
	t.Helper()
	e := testenv.Setup(t)
	c := kms.NewFromConfig(e.Config)
	return c, newTenant(t, c)
}

func TestRoundTrip(t *testing.T) {
	c, tn := setup(t)
	ctx := context.Background()
	big := make([]byte, 64<<10)
	rand.Read(big)
	tests := []struct {
		name      string
		plaintext []byte
	}{
		{"empty", []byte{}},
		{"one byte", []byte{0}},
		{"text", []byte("4111 1111 1111 1111")},
		{"binary 64 KiB", big},
	}
	writer := crypto.NewEnvelope(c)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tn.field("card")
			sealed, err := writer.Seal(ctx, tn.key, f, tt.plaintext)
			if err != nil {
				t.Fatalf("seal: %v", err)
			}
			if sealed[0] != 2 {
				t.Fatalf("version byte %d, want 2 (the format Seal writes)", sealed[0])
			}
			if len(tt.plaintext) > 4 && bytes.Contains(sealed, tt.plaintext) {
				t.Fatal("sealed value contains the plaintext")
			}
			got, err := writer.Open(ctx, tn.key, f, sealed)
			if err != nil || !bytes.Equal(got, tt.plaintext) {
				t.Fatalf("open by writer = %d bytes, %v", len(got), err)
			}
			reader := crypto.NewEnvelope(c)
			got, err = reader.Open(ctx, tn.key, f, sealed)
			if err != nil || !bytes.Equal(got, tt.plaintext) {
				t.Fatalf("open by another envelope = %d bytes, %v", len(got), err)
			}
		})
	}
	if s := writer.Stats(); s.GenerateDataKeyCalls != 1 || s.DecryptCalls != 0 {
		t.Fatalf("writer stats %+v: want 1 GenerateDataKey and no Decrypt (it reads back its own keys)", s)
	}
}

func TestSealsDiffer(t *testing.T) {
	c, tn := setup(t)
	env := crypto.NewEnvelope(c)
	a, _ := env.Seal(context.Background(), tn.key, tn.field("x"), []byte("same"))
	b, _ := env.Seal(context.Background(), tn.key, tn.field("x"), []byte("same"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of one plaintext are equal: nonce reused")
	}
}

// A value copied anywhere else must not open (another table holding the same
// item of the same tenant is the one place it may: see
// TestSealedValuesFollowTheirItemToAnotherTable).
func TestValueIsBoundToItsField(t *testing.T) {
	c, tn := setup(t)
	other := newTenant(t, c)
	ctx := context.Background()
	f := tn.field("ssn")
	sealed, err := crypto.NewEnvelope(c).Seal(ctx, tn.key, f, []byte("078-05-1120"))
	if err != nil {
		t.Fatal(err)
	}
	with := func(mod func(*crypto.Field)) crypto.Field { g := f; mod(&g); return g }
	tests := []struct {
		name  string
		key   crypto.Key
		field crypto.Field
	}{
		{"other partition key", tn.key, with(func(g *crypto.Field) { g.PK = tn.id + "#ORDER" })},
		{"other item", tn.key, with(func(g *crypto.Field) { g.SK = "c-02" })},
		{"other attribute", tn.key, with(func(g *crypto.Field) { g.Attribute = "phone" })},
		{"shifted boundary", tn.key, with(func(g *crypto.Field) { g.SK, g.Attribute = "c-01s", "sn" })},
		{"other tenant's item, its key", other.key, with(func(g *crypto.Field) { g.TenantID = other.id; g.PK = other.id + "#CUSTOMER" })},
		{"other tenant's item, same key", crypto.Key{TenantID: other.id, KeyID: tn.key.KeyID},
			with(func(g *crypto.Field) { g.TenantID = other.id; g.PK = other.id + "#CUSTOMER" })},
		{"tenant id only", crypto.Key{TenantID: other.id, KeyID: tn.key.KeyID}, with(func(g *crypto.Field) { g.TenantID = other.id })},
	}
	shared := crypto.NewEnvelope(c) // warm: has opened the value once
	if _, err := shared.Open(ctx, tn.key, f, sealed); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for name, env := range map[string]*crypto.Envelope{"fresh": crypto.NewEnvelope(c), "warm": shared} {
				got, err := env.Open(ctx, tt.key, tt.field, sealed)
				if !errors.Is(err, crypto.ErrIntegrity) || got != nil {
					t.Errorf("%s envelope: Open = %q, %v; want ErrIntegrity", name, got, err)
				}
			}
		})
	}
}

// local-kms binds the encryption context: tenant A's data key does not
// decrypt under tenant B's context, even with A's key. The error comes from
// KMS, before any AEAD check.
func TestKMSBindsTenantContext(t *testing.T) {
	c, a := setup(t)
	ctx := context.Background()
	sealed, err := crypto.NewEnvelope(c).Seal(ctx, a.key, a.field("x"), []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	b := crypto.Key{TenantID: "t-test-other", KeyID: a.key.KeyID}
	f := a.field("x")
	f.TenantID = b.TenantID
	env := crypto.NewEnvelope(c)
	_, err = env.Open(ctx, b, f, sealed)
	var invalid *types.InvalidCiphertextException
	if !errors.Is(err, crypto.ErrIntegrity) || !errors.As(err, &invalid) {
		t.Fatalf("Open with another tenant's context = %v; want ErrIntegrity from InvalidCiphertextException", err)
	}
	if s := env.Stats(); s.DecryptCalls != 1 {
		t.Fatalf("stats %+v, want the one Decrypt that KMS refused", s)
	}
}

func TestTamperedValuesFail(t *testing.T) {
	c, tn := setup(t)
	ctx := context.Background()
	env := crypto.NewEnvelope(c)
	f := tn.field("note")
	plaintext := []byte("a sensitive note of some length")
	sealed, err := env.Seal(ctx, tn.key, f, plaintext)
	if err != nil {
		t.Fatal(err)
	}
	edkLen := int(sealed[1])<<8 | int(sealed[2])
	edk, nonce := 3, 3+edkLen
	body := nonce + 12
	tag := len(sealed) - 16
	positions := []struct {
		name string
		at   int
	}{
		{"version", 0},
		{"edk length high", 1},
		{"edk length low", 2},
		{"edk first", edk},
		{"edk middle", edk + edkLen/2},
		{"edk last", nonce - 1},
		{"nonce first", nonce},
		{"nonce last", body - 1},
		{"ciphertext first", body},
		{"ciphertext last", tag - 1},
		{"tag first", tag},
		{"tag last", len(sealed) - 1},
	}
	for _, p := range positions {
		for _, bit := range []byte{0x01, 0x80} {
			t.Run(p.name, func(t *testing.T) {
				bad := bytes.Clone(sealed)
				bad[p.at] ^= bit
				got, err := env.Open(ctx, tn.key, f, bad)
				if !errors.Is(err, crypto.ErrIntegrity) || got != nil {
					t.Fatalf("flip %#x at %d: Open = %q, %v; want ErrIntegrity", bit, p.at, got, err)
				}
			})
		}
	}
	t.Run("truncated", func(t *testing.T) {
		for n := range len(sealed) {
			if got, err := env.Open(ctx, tn.key, f, sealed[:n]); err == nil || got != nil {
				t.Fatalf("Open of %d-byte prefix = %q, %v", n, got, err)
			}
		}
	})
	t.Run("extended", func(t *testing.T) {
		if _, err := env.Open(ctx, tn.key, f, append(bytes.Clone(sealed), 0)); !errors.Is(err, crypto.ErrIntegrity) {
			t.Fatalf("Open with a trailing byte: %v", err)
		}
	})
	if got, err := env.Open(ctx, tn.key, f, sealed); err != nil || !bytes.Equal(got, plaintext) {
		t.Fatalf("original no longer opens: %v", err)
	}
}

func TestSealCacheMaxUses(t *testing.T) {
	c, tn := setup(t)
	ctx := context.Background()
	env := crypto.NewEnvelope(c, crypto.WithMaxUses(25))
	for i := range 25 {
		if _, err := env.Seal(ctx, tn.key, tn.field("x"), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if s := env.Stats(); s.GenerateDataKeyCalls != 1 || s.SealHits != 24 || s.SealMisses != 1 {
		t.Fatalf("after 25 seals: %+v, want 1 GenerateDataKey", s)
	}
	if _, err := env.Seal(ctx, tn.key, tn.field("x"), nil); err != nil {
		t.Fatal(err)
	}
	if s := env.Stats(); s.GenerateDataKeyCalls != 2 {
		t.Fatalf("after 26 seals: %+v, want a new data key", s)
	}
}

func TestSealCacheMaxAge(t *testing.T) {
	c, tn := setup(t)
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	env := crypto.NewEnvelope(c, crypto.WithClock(clock))

	seal := func() []byte {
		v, err := env.Seal(ctx, tn.key, tn.field("x"), []byte("v"))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	first := seal()
	advance(crypto.DefaultMaxAge - time.Second)
	same := seal()
	if s := env.Stats(); s.GenerateDataKeyCalls != 1 {
		t.Fatalf("before max age: %+v", s)
	}
	advance(time.Second)
	renewed := seal()
	if s := env.Stats(); s.GenerateDataKeyCalls != 2 {
		t.Fatalf("at max age: %+v, want a new data key", s)
	}
	edk := func(v []byte) []byte { return v[3 : 3+int(v[1])<<8|int(v[2])] }
	if !bytes.Equal(edk(first), edk(same)) || bytes.Equal(edk(first), edk(renewed)) {
		t.Fatal("sealed values do not carry the data keys the stats claim")
	}
}

func TestConcurrentFirstSealsMakeOneKMSCall(t *testing.T) {
	c, tn := setup(t)
	env := crypto.NewEnvelope(c)
	const n = 50
	start := make(chan struct{})
	sealed := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			v, err := env.Seal(context.Background(), tn.key, tn.field("x"), []byte{byte(i)})
			if err != nil {
				t.Error(err)
			}
			sealed[i] = v
		})
	}
	close(start)
	wg.Wait()
	if s := env.Stats(); s.GenerateDataKeyCalls != 1 || s.SealMisses != 1 || s.SealHits != n-1 {
		t.Fatalf("%d concurrent first seals: %+v, want 1 GenerateDataKey", n, s)
	}
	reader := crypto.NewEnvelope(c)
	for i, v := range sealed {
		got, err := reader.Open(context.Background(), tn.key, tn.field("x"), v)
		if err != nil || len(got) != 1 || got[0] != byte(i) {
			t.Fatalf("open %d: %v", i, err)
		}
	}
	if s := reader.Stats(); s.DecryptCalls != 1 {
		t.Fatalf("reader: %+v, want 1 Decrypt for one data key", s)
	}
}

func TestOpenCache(t *testing.T) {
	c, tn := setup(t)
	ctx := context.Background()
	sealed, err := crypto.NewEnvelope(c).Seal(ctx, tn.key, tn.field("x"), []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	reader := crypto.NewEnvelope(c, crypto.WithClock(clock), crypto.WithMaxAge(time.Minute))
	for range 10 {
		if _, err := reader.Open(ctx, tn.key, tn.field("x"), sealed); err != nil {
			t.Fatal(err)
		}
	}
	if s := reader.Stats(); s.DecryptCalls != 1 || s.OpenMisses != 1 || s.OpenHits != 9 {
		t.Fatalf("10 opens: %+v, want 1 Decrypt", s)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if _, err := reader.Open(ctx, tn.key, tn.field("x"), sealed); err != nil {
		t.Fatal(err)
	}
	if s := reader.Stats(); s.DecryptCalls != 2 {
		t.Fatalf("after max age: %+v, want a second Decrypt", s)
	}
}

func TestOpenCacheIsBounded(t *testing.T) {
	c, tn := setup(t)
	ctx := context.Background()
	// Three values under three data keys.
	var values [][]byte
	for range 3 {
		v, err := crypto.NewEnvelope(c).Seal(ctx, tn.key, tn.field("x"), []byte("v"))
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, v)
	}
	reader := crypto.NewEnvelope(c, crypto.WithMaxEntries(2))
	open := func(i int) {
		if _, err := reader.Open(ctx, tn.key, tn.field("x"), values[i]); err != nil {
			t.Fatal(err)
		}
	}
	open(0)
	open(1)
	open(2) // evicts 0
	open(2)
	open(1)
	if s := reader.Stats(); s.DecryptCalls != 3 {
		t.Fatalf("stats %+v, want 3 Decrypts", s)
	}
	open(0)
	if s := reader.Stats(); s.DecryptCalls != 4 {
		t.Fatalf("stats %+v, want the evicted key decrypted again", s)
	}
}

// Disabling or deleting a tenant's key makes its data unreadable to every
// process without a cached data key: crypto-shredding.
func TestDisabledKeyShredsData(t *testing.T) {
	c, tn := setup(t)
	ctx := context.Background()
	warm := crypto.NewEnvelope(c)
	f := tn.field("x")
	sealed, err := warm.Seal(ctx, tn.key, f, []byte("gone soon"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(tn.key.KeyID)}); err != nil {
		t.Fatal(err)
	}
	if got, err := crypto.NewEnvelope(c).Open(ctx, tn.key, f, sealed); err == nil || got != nil {
		t.Fatalf("fresh envelope opened a value under a disabled key: %v", err)
	}
	if _, err := crypto.NewEnvelope(c).Seal(ctx, tn.key, f, []byte("new")); !errors.Is(err, crypto.ErrKeyUnavailable) {
		t.Fatalf("seal under a disabled key = %v, want ErrKeyUnavailable", err)
	}
	// A warm process keeps its cached data key until MaxAge: the documented window.
	if _, err := warm.Open(ctx, tn.key, f, sealed); err != nil {
		t.Fatalf("warm envelope within max age: %v", err)
	}

	if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(tn.key.KeyID), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	if got, err := crypto.NewEnvelope(c).Open(ctx, tn.key, f, sealed); err == nil || got != nil {
		t.Fatalf("fresh envelope opened a value under a key pending deletion: %v", err)
	}
	if _, err := crypto.NewEnvelope(c).Seal(ctx, tn.key, f, []byte("new")); !errors.Is(err, crypto.ErrKeyUnavailable) {
		t.Fatalf("seal under a key pending deletion = %v, want ErrKeyUnavailable", err)
	}
}

func TestInvalidInputMakesNoKMSCall(t *testing.T) {
	env := crypto.NewEnvelope(nil) // any KMS call would panic
	key := crypto.Key{TenantID: "t-1", KeyID: "arn:aws:kms:us-east-1:123456789012:key/x"}
	ok := crypto.Field{TenantID: "t-1", Table: "tbl", PK: "t-1#X", SK: "1", Attribute: "a"}
	tests := []struct {
		name string
		key  crypto.Key
		f    crypto.Field
	}{
		{"tenant mismatch", key, crypto.Field{TenantID: "t-2", Table: "tbl", PK: "t-2#X", SK: "1", Attribute: "a"}},
		{"no key id", crypto.Key{TenantID: "t-1"}, ok},
		{"no tenant", crypto.Key{KeyID: key.KeyID}, crypto.Field{Table: "tbl", PK: "x", Attribute: "a"}},
		{"no table", key, crypto.Field{TenantID: "t-1", PK: "t-1#X", Attribute: "a"}},
		{"no pk", key, crypto.Field{TenantID: "t-1", Table: "tbl", Attribute: "a"}},
		{"no attribute", key, crypto.Field{TenantID: "t-1", Table: "tbl", PK: "t-1#X"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := env.Seal(context.Background(), tt.key, tt.f, []byte("x")); !errors.Is(err, crypto.ErrInvalidInput) {
				t.Errorf("Seal = %v, want ErrInvalidInput", err)
			}
			if _, err := env.Open(context.Background(), tt.key, tt.f, []byte{1, 0, 1, 0}); !errors.Is(err, crypto.ErrInvalidInput) {
				t.Errorf("Open = %v, want ErrInvalidInput", err)
			}
		})
	}
	// Malformed values are rejected before any KMS call too.
	for _, v := range [][]byte{nil, {1}, {2, 0, 1, 9}, {1, 0, 200, 1, 2, 3}} {
		if _, err := env.Open(context.Background(), key, ok, v); !errors.Is(err, crypto.ErrIntegrity) {
			t.Errorf("Open(%v) = %v, want ErrIntegrity", v, err)
		}
	}
}

// recordCreds records the credentials each KMS call ran with.
type recordCreds struct {
	*kms.Client
	mu  sync.Mutex
	got []aws.CredentialsProvider
}

func (r *recordCreds) record(fns []func(*kms.Options)) {
	var o kms.Options
	for _, fn := range fns {
		fn(&o)
	}
	r.mu.Lock()
	r.got = append(r.got, o.Credentials)
	r.mu.Unlock()
}

func (r *recordCreds) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, fns ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	r.record(fns)
	return r.Client.GenerateDataKey(ctx, in, fns...)
}

func (r *recordCreds) Decrypt(ctx context.Context, in *kms.DecryptInput, fns ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	r.record(fns)
	return r.Client.Decrypt(ctx, in, fns...)
}

func TestTenantCredentialsArePassedPerCall(t *testing.T) {
	c, tn := setup(t)
	ctx := context.Background()
	scoped := aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(emulator.AccessKey, emulator.SecretKey, "tenant-session"))
	r := &recordCreds{Client: c}
	k := tn.key
	k.Credentials = scoped
	sealed, err := crypto.NewEnvelope(r).Seal(ctx, k, tn.field("x"), []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crypto.NewEnvelope(r).Open(ctx, k, tn.field("x"), sealed); err != nil {
		t.Fatal(err)
	}
	if _, err := crypto.NewEnvelope(r).Open(ctx, tn.key, tn.field("x"), sealed); err != nil {
		t.Fatal(err)
	}
	if len(r.got) != 3 || r.got[0] != scoped || r.got[1] != scoped || r.got[2] != nil {
		t.Fatalf("credentials per call = %v, want scoped, scoped, client's own", r.got)
	}
}

func FuzzOpen(f *testing.F) {
	e := testenv.Setup(f)
	// No retries: a garbled data key must cost one request, not four.
	c := kms.NewFromConfig(e.Config, func(o *kms.Options) { o.RetryMaxAttempts = 1 })
	tn := newTenant(f, c)
	field := tn.field("x")
	env := crypto.NewEnvelope(c)
	plaintext := []byte("fuzz me")
	sealed, err := env.Seal(context.Background(), tn.key, field, plaintext)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add(sealed[:len(sealed)-1])
	f.Add(sealed[:3])
	f.Add([]byte{})
	f.Add([]byte{2, 0, 1, 0})
	f.Add([]byte{1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, value []byte) {
		got, err := env.Open(context.Background(), tn.key, field, value)
		if err == nil && !bytes.Equal(got, plaintext) {
			t.Fatalf("Open accepted a forged value: %q", got)
		}
		if err != nil && got != nil {
			t.Fatal("Open returned plaintext with an error")
		}
	})
}

// BenchmarkSeal measures the cached path: the data key never runs out here.
// With the default MaxUses, one GenerateDataKey per 10,000 seals adds its
// latency divided by 10,000.
func BenchmarkSeal(b *testing.B) {
	c, tn := setup(b)
	env := crypto.NewEnvelope(c, crypto.WithMaxUses(math.MaxInt))
	ctx := context.Background()
	f := tn.field("x")
	plaintext := make([]byte, 256)
	if _, err := env.Seal(ctx, tn.key, f, plaintext); err != nil { // warm the cache
		b.Fatal(err)
	}
	b.SetBytes(int64(len(plaintext)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := env.Seal(ctx, tn.key, f, plaintext); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(env.Stats().GenerateDataKeyCalls), "kms-calls")
}

func BenchmarkOpen(b *testing.B) {
	c, tn := setup(b)
	env := crypto.NewEnvelope(c)
	ctx := context.Background()
	f := tn.field("x")
	plaintext := make([]byte, 256)
	sealed, err := crypto.NewEnvelope(c).Seal(ctx, tn.key, f, plaintext)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := env.Open(ctx, tn.key, f, sealed); err != nil { // warm the cache
		b.Fatal(err)
	}
	b.SetBytes(int64(len(plaintext)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := env.Open(ctx, tn.key, f, sealed); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(env.Stats().DecryptCalls), "kms-calls")
}

func BenchmarkSealParallel(b *testing.B) {
	c, tn := setup(b)
	env := crypto.NewEnvelope(c, crypto.WithMaxUses(math.MaxInt))
	ctx := context.Background()
	f := tn.field("x")
	plaintext := make([]byte, 256)
	b.SetBytes(int64(len(plaintext)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := env.Seal(ctx, tn.key, f, plaintext); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
