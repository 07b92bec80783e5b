package tenantkey_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/tessera-saas/tessera/internal/control/tenantkey"
	"github.com/tessera-saas/tessera/internal/local/emulator"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/access"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// stage is the stage of the tests' keys.
const stage = "local"

func newTenantID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	return "t-test-" + hex.EncodeToString(b)
}

func TestAlias(t *testing.T) {
	if got, want := tenantkey.Alias("dev", "t-01abc"), "alias/tessera/dev/tenant/t-01abc"; got != want {
		t.Fatalf("Alias = %q, want %q", got, want)
	}
}

func TestValidateTenantID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"t-01hx5m2k", true},
		{"ab", true},
		{"0-", true},
		{strings.Repeat("a", 63), true},
		{"", false},
		{"a", false},
		{strings.Repeat("a", 64), false},
		{"-ab", false},
		{"T-01", false},
		{"t_01", false},
		{"t#01", false},
		{"t/01", false},
		{"t*", false},
		{"t 1", false},
		{"tä", false},
	}
	for _, tt := range tests {
		err := tenantkey.ValidateTenantID(tt.id)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateTenantID(%q) = %v, want ok=%v", tt.id, err, tt.ok)
		}
		if err != nil && !errors.Is(err, tenantkey.ErrInvalidTenantID) {
			t.Errorf("ValidateTenantID(%q) = %v, want ErrInvalidTenantID", tt.id, err)
		}
	}
}

// refuse fails the test on any KMS call.
type refuse struct{ t *testing.T }

func (r refuse) fail() error { r.t.Error("unexpected KMS call"); return errors.New("refused") }
func (r refuse) CreateKey(context.Context, *kms.CreateKeyInput, ...func(*kms.Options)) (*kms.CreateKeyOutput, error) {
	return nil, r.fail()
}
func (r refuse) CreateAlias(context.Context, *kms.CreateAliasInput, ...func(*kms.Options)) (*kms.CreateAliasOutput, error) {
	return nil, r.fail()
}
func (r refuse) DescribeKey(context.Context, *kms.DescribeKeyInput, ...func(*kms.Options)) (*kms.DescribeKeyOutput, error) {
	return nil, r.fail()
}
func (r refuse) DisableKey(context.Context, *kms.DisableKeyInput, ...func(*kms.Options)) (*kms.DisableKeyOutput, error) {
	return nil, r.fail()
}
func (r refuse) ScheduleKeyDeletion(context.Context, *kms.ScheduleKeyDeletionInput, ...func(*kms.Options)) (*kms.ScheduleKeyDeletionOutput, error) {
	return nil, r.fail()
}
func (r refuse) TagResource(context.Context, *kms.TagResourceInput, ...func(*kms.Options)) (*kms.TagResourceOutput, error) {
	return nil, r.fail()
}

func TestInvalidInputMakesNoCall(t *testing.T) {
	ctx := context.Background()
	for _, id := range []string{"", "A", "t#1", "../x"} {
		if _, err := tenantkey.Ensure(ctx, refuse{t}, stage, id, nil); !errors.Is(err, tenantkey.ErrInvalidTenantID) {
			t.Errorf("Ensure(%q) = %v, want ErrInvalidTenantID", id, err)
		}
		if err := tenantkey.Retire(ctx, refuse{t}, stage, id, 7); !errors.Is(err, tenantkey.ErrInvalidTenantID) {
			t.Errorf("Retire(%q) = %v, want ErrInvalidTenantID", id, err)
		}
	}
	for _, st := range []string{"", "Dev", "dev-1", "d/x", "0dev", "abcdefghijklm"} {
		if _, err := tenantkey.Ensure(ctx, refuse{t}, st, "t-ok", nil); !errors.Is(err, tenantkey.ErrInvalidStage) {
			t.Errorf("Ensure in stage %q = %v, want ErrInvalidStage", st, err)
		}
		if err := tenantkey.Retire(ctx, refuse{t}, st, "t-ok", 7); !errors.Is(err, tenantkey.ErrInvalidStage) {
			t.Errorf("Retire in stage %q = %v, want ErrInvalidStage", st, err)
		}
	}
	for _, days := range []int32{0, 6, 31} {
		if err := tenantkey.Retire(ctx, refuse{t}, stage, "t-ok", days); err == nil {
			t.Errorf("Retire with %d days: no error", days)
		}
	}
}

func policyFor(tenantID string) []byte {
	return access.TenantKeyPolicy(access.KeyPolicyParams{
		Stage: stage, Partition: "aws", Account: emulator.Account, TenantID: tenantID,
		DataAccessRoleARN: "arn:aws:iam::" + emulator.Account + ":role/" + access.RoleName,
		AdminRoleARN:      "arn:aws:iam::" + emulator.Account + ":root",
	}).JSON()
}

// keysOf returns the keys tagged tenantId=tenantID, with their state.
func keysOf(t *testing.T, c *kms.Client, tenantID string) map[string]types.KeyState {
	t.Helper()
	ctx := context.Background()
	found := map[string]types.KeyState{}
	p := kms.NewListKeysPaginator(c, &kms.ListKeysInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list keys: %v", err)
		}
		for _, k := range page.Keys {
			tags, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: k.KeyId})
			if err != nil {
				t.Fatalf("list tags of %s: %v", aws.ToString(k.KeyId), err)
			}
			for _, tag := range tags.Tags {
				if aws.ToString(tag.TagKey) == access.TenantTag && aws.ToString(tag.TagValue) == tenantID {
					d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyArn})
					if err != nil {
						t.Fatalf("describe %s: %v", aws.ToString(k.KeyArn), err)
					}
					found[aws.ToString(k.KeyArn)] = d.KeyMetadata.KeyState
				}
			}
		}
	}
	return found
}

func TestEnsureIsIdempotent(t *testing.T) {
	e := testenv.Setup(t)
	c := kms.NewFromConfig(e.Config)
	ctx := context.Background()
	id := newTenantID(t)
	policy := policyFor(id)

	first, err := tenantkey.Ensure(ctx, c, stage, id, policy)
	if err != nil {
		t.Fatalf("first Ensure: %v", err)
	}
	second, err := tenantkey.Ensure(ctx, c, stage, id, policy)
	if err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	if first != second {
		t.Fatalf("Ensure returned %s, then %s", first, second)
	}
	if !strings.HasPrefix(first, "arn:aws:kms:") || !strings.Contains(first, ":key/") {
		t.Errorf("Ensure returned %q, want a key ARN", first)
	}
	keys := keysOf(t, c, id)
	if len(keys) != 1 || keys[first] != types.KeyStateEnabled {
		t.Fatalf("keys tagged %s = %v, want only %s, enabled", id, keys, first)
	}

	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(tenantkey.Alias(stage, id))})
	if err != nil {
		t.Fatalf("describe alias: %v", err)
	}
	md := d.KeyMetadata
	if aws.ToString(md.Arn) != first || md.KeyUsage != types.KeyUsageTypeEncryptDecrypt || md.KeySpec != types.KeySpecSymmetricDefault {
		t.Errorf("key metadata: arn %s usage %s spec %s", aws.ToString(md.Arn), md.KeyUsage, md.KeySpec)
	}
	got, err := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(first), PolicyName: aws.String("default")})
	if err != nil {
		t.Fatalf("get key policy: %v", err)
	}
	var stored, sent any
	if err := json.Unmarshal([]byte(aws.ToString(got.Policy)), &stored); err != nil {
		t.Fatalf("stored policy is not JSON: %v", err)
	}
	_ = json.Unmarshal(policy, &sent)
	if b1, b2 := mustJSON(stored), mustJSON(sent); b1 != b2 {
		t.Errorf("stored key policy differs from the one sent:\n got %s\nwant %s", b1, b2)
	}
}

// stateOf returns the state of key arn.
func stateOf(t *testing.T, c *kms.Client, arn string) types.KeyState {
	t.Helper()
	d, err := c.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(arn)})
	if err != nil {
		t.Fatalf("describe %s: %v", arn, err)
	}
	return d.KeyMetadata.KeyState
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// raceKMS makes two Ensure calls collide: CreateAlias waits until both have
// created a key, and CreateAlias calls run one at a time. local-kms checks and
// writes aliases without a lock (real KMS makes CreateAlias atomic), so
// without that a test of the race would itself be racy.
type raceKMS struct {
	*kms.Client
	created sync.WaitGroup
	alias   sync.Mutex
	mu      sync.Mutex
	keys    []string // every key CreateKey made
}

func (r *raceKMS) CreateKey(ctx context.Context, in *kms.CreateKeyInput, o ...func(*kms.Options)) (*kms.CreateKeyOutput, error) {
	out, err := r.Client.CreateKey(ctx, in, o...)
	if err == nil {
		r.mu.Lock()
		r.keys = append(r.keys, aws.ToString(out.KeyMetadata.Arn))
		r.mu.Unlock()
	}
	r.created.Done()
	return out, err
}

func (r *raceKMS) CreateAlias(ctx context.Context, in *kms.CreateAliasInput, o ...func(*kms.Options)) (*kms.CreateAliasOutput, error) {
	waited := make(chan struct{})
	go func() { r.created.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		return nil, errors.New("test: the other Ensure never created its key")
	}
	r.alias.Lock()
	defer r.alias.Unlock()
	return r.Client.CreateAlias(ctx, in, o...)
}

func TestEnsureConcurrentForOneTenant(t *testing.T) {
	e := testenv.Setup(t)
	c := kms.NewFromConfig(e.Config)
	id := newTenantID(t)
	r := &raceKMS{Client: c}
	r.created.Add(2)

	var wg sync.WaitGroup
	arns := make([]string, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() { arns[i], errs[i] = tenantkey.Ensure(context.Background(), r, stage, id, policyFor(id)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Ensure %d: %v", i, err)
		}
	}
	if arns[0] != arns[1] {
		t.Fatalf("concurrent Ensure returned %s and %s", arns[0], arns[1])
	}
	if len(r.keys) != 2 {
		t.Fatalf("keys created = %v, want the winner's and the loser's", r.keys)
	}
	for _, arn := range r.keys {
		want := types.KeyStatePendingDeletion
		if arn == arns[0] {
			want = types.KeyStateEnabled
		}
		if state := stateOf(t, c, arn); state != want {
			t.Errorf("key %s is %s, want %s", arn, state, want)
		}
	}
	// Only the tenant's key carries the tenant's tags.
	if keys := keysOf(t, c, id); len(keys) != 1 || keys[arns[0]] != types.KeyStateEnabled {
		t.Errorf("keys tagged %s = %v, want only the winner %s", id, keys, arns[0])
	}
}

// failAlias makes CreateAlias fail as a throttled or broken call would.
type failAlias struct {
	*kms.Client
	created string
}

func (f *failAlias) CreateKey(ctx context.Context, in *kms.CreateKeyInput, o ...func(*kms.Options)) (*kms.CreateKeyOutput, error) {
	out, err := f.Client.CreateKey(ctx, in, o...)
	if err == nil {
		f.created = aws.ToString(out.KeyMetadata.Arn)
	}
	return out, err
}

func (f *failAlias) CreateAlias(context.Context, *kms.CreateAliasInput, ...func(*kms.Options)) (*kms.CreateAliasOutput, error) {
	return nil, errors.New("test: alias service unavailable")
}

func TestEnsureLeavesNoKeyWithoutAlias(t *testing.T) {
	e := testenv.Setup(t)
	c := kms.NewFromConfig(e.Config)
	id := newTenantID(t)
	f := &failAlias{Client: c}
	if _, err := tenantkey.Ensure(context.Background(), f, stage, id, nil); err == nil {
		t.Fatal("Ensure succeeded although CreateAlias failed")
	}
	if f.created == "" {
		t.Fatal("no key was created")
	}
	if state := stateOf(t, c, f.created); state != types.KeyStatePendingDeletion {
		t.Fatalf("key %s without alias is %s, want pending deletion", f.created, state)
	}
	if keys := keysOf(t, c, id); len(keys) != 0 {
		t.Fatalf("keys tagged %s = %v, want none: a key is tagged once it holds the alias", id, keys)
	}
	// Without a policy, KMS applies its default one: the key still works.
	arn, err := tenantkey.Ensure(context.Background(), c, stage, id, nil)
	if err != nil || arn == f.created {
		t.Fatalf("Ensure after failure = %s, %v; want a new key", arn, err)
	}
}

func TestRetire(t *testing.T) {
	e := testenv.Setup(t)
	c := kms.NewFromConfig(e.Config)
	ctx := context.Background()
	id := newTenantID(t)
	arn, err := tenantkey.Ensure(ctx, c, stage, id, policyFor(id))
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	gen := func() error {
		_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
			KeyId: aws.String(arn), KeySpec: types.DataKeySpecAes256,
			EncryptionContext: map[string]string{access.TenantTag: id},
		})
		return err
	}
	if err := gen(); err != nil {
		t.Fatalf("GenerateDataKey before Retire: %v", err)
	}

	if err := tenantkey.Retire(ctx, c, stage, id, 7); err != nil {
		t.Fatalf("Retire: %v", err)
	}
	err = gen()
	var invalid *types.KMSInvalidStateException
	if !errors.As(err, &invalid) {
		t.Fatalf("GenerateDataKey after Retire = %v, want KMSInvalidStateException", err)
	}
	if keys := keysOf(t, c, id); keys[arn] != types.KeyStatePendingDeletion {
		t.Fatalf("key state after Retire: %v", keys)
	}

	if err := tenantkey.Retire(ctx, c, stage, id, 7); err != nil {
		t.Errorf("second Retire: %v", err)
	}
	if _, err := tenantkey.Ensure(ctx, c, stage, id, policyFor(id)); !errors.Is(err, tenantkey.ErrRetired) {
		t.Errorf("Ensure after Retire = %v, want ErrRetired", err)
	}
	if err := tenantkey.Retire(ctx, c, stage, newTenantID(t), 7); err != nil {
		t.Errorf("Retire of a tenant without a key: %v", err)
	}
}

func TestRetireDisabledKey(t *testing.T) {
	e := testenv.Setup(t)
	c := kms.NewFromConfig(e.Config)
	ctx := context.Background()
	id := newTenantID(t)
	arn, err := tenantkey.Ensure(ctx, c, stage, id, nil)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(arn)}); err != nil {
		t.Fatalf("disable: %v", err)
	}
	if err := tenantkey.Retire(ctx, c, stage, id, 30); err != nil {
		t.Fatalf("Retire of a disabled key: %v", err)
	}
	if keys := keysOf(t, c, id); keys[arn] != types.KeyStatePendingDeletion {
		t.Fatalf("key state after Retire: %v", keys)
	}
}
