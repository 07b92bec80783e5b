package tenantkey_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/tessera-saas/tessera/internal/control/tenantkey"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/access"
)

// countListKeys is the real local-kms client, counting ListKeys calls.
type countListKeys struct {
	*kms.Client
	calls atomic.Int32
}

func (c *countListKeys) ListKeys(ctx context.Context, in *kms.ListKeysInput, o ...func(*kms.Options)) (*kms.ListKeysOutput, error) {
	c.calls.Add(1)
	return c.Client.ListKeys(ctx, in, o...)
}

// TestEnsureRecoveringIgnoresTaggedForeignKey: a key that carries the
// tenant's tags but not the tenant's alias is not the tenant's (anyone who
// may tag keys can make one, or point a policy of their own at it).
// EnsureRecovering looks the tenant's alias up, never lists the account's
// keys, never adopts that key, and leaves it alone.
func TestEnsureRecoveringIgnoresTaggedForeignKey(t *testing.T) {
	e := testenv.Setup(t)
	c := &countListKeys{Client: kms.NewFromConfig(e.Config)}
	ctx := context.Background()
	id := newTenantID(t)

	foreign, err := c.CreateKey(ctx, &kms.CreateKeyInput{
		Description: aws.String("not a tenant key"),
		Tags: []types.Tag{
			{TagKey: aws.String(access.TenantTag), TagValue: aws.String(id)},
			{TagKey: aws.String(access.StageTag), TagValue: aws.String(stage)},
		},
	})
	if err != nil {
		t.Fatalf("create the foreign key: %v", err)
	}
	foreignARN := aws.ToString(foreign.KeyMetadata.Arn)

	arn, err := tenantkey.EnsureRecovering(ctx, c, stage, id, policyFor(id))
	if err != nil {
		t.Fatalf("EnsureRecovering: %v", err)
	}
	if arn == foreignARN {
		t.Errorf("EnsureRecovering adopted the foreign key %s because of its tags", foreignARN)
	}
	if n := c.calls.Load(); n != 0 {
		t.Errorf("EnsureRecovering listed the account's keys (%d ListKeys calls); it must look the alias up", n)
	}
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(foreignARN)})
	if err != nil {
		t.Fatal(err)
	}
	if st := d.KeyMetadata.KeyState; st != types.KeyStateEnabled {
		t.Errorf("the foreign key is %s, want it left Enabled", st)
	}
	byAlias, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(tenantkey.Alias(stage, id))})
	if err != nil || aws.ToString(byAlias.KeyMetadata.Arn) != arn {
		t.Fatalf("alias resolves to %v (%v), want %s", byAlias, err, arn)
	}
}

// TestEnsureRecoveringTagsAnAliasedUntaggedKey: an attempt that died after
// CreateAlias, before TagResource, left the tenant's key aliased and
// untagged. The retry finds it by its alias and tags it tenantId and stage.
func TestEnsureRecoveringTagsAnAliasedUntaggedKey(t *testing.T) {
	e := testenv.Setup(t)
	c := kms.NewFromConfig(e.Config)
	ctx := context.Background()
	id := newTenantID(t)
	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(string(policyFor(id)))})
	if err != nil {
		t.Fatal(err)
	}
	earlier := aws.ToString(k.KeyMetadata.Arn)
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(tenantkey.Alias(stage, id)), TargetKeyId: aws.String(earlier)}); err != nil {
		t.Fatal(err)
	}
	arn, err := tenantkey.EnsureRecovering(ctx, c, stage, id, policyFor(id))
	if err != nil || arn != earlier {
		t.Fatalf("EnsureRecovering = %s, %v; want the aliased key %s", arn, err, earlier)
	}
	tags, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tg := range tags.Tags {
		got[aws.ToString(tg.TagKey)] = aws.ToString(tg.TagValue)
	}
	if want := access.KeyTags(stage, id); len(got) != len(want) || got[access.TenantTag] != id || got[access.StageTag] != stage {
		t.Fatalf("tags = %v, want %v", got, want)
	}
}

// captureCreate is the real local-kms client, keeping CreateKey's input.
type captureCreate struct {
	*kms.Client
	in *kms.CreateKeyInput
}

func (c *captureCreate) CreateKey(ctx context.Context, in *kms.CreateKeyInput, o ...func(*kms.Options)) (*kms.CreateKeyOutput, error) {
	c.in = in
	return c.Client.CreateKey(ctx, in, o...)
}

// TestEnsureCreatesUntaggedKeyWithPolicy: the key is created without tags
// (tags on CreateKey need kms:TagResource in an IAM policy on every key,
// which the provisioner must not hold) and with the tenant's key policy,
// bypassing KMS's lockout check on purpose (the provisioner may not replace
// the policy; the account root may); it is tagged once aliased.
func TestEnsureCreatesUntaggedKeyWithPolicy(t *testing.T) {
	e := testenv.Setup(t)
	c := &captureCreate{Client: kms.NewFromConfig(e.Config)}
	id := newTenantID(t)
	if _, err := tenantkey.Ensure(context.Background(), c, stage, id, policyFor(id)); err != nil {
		t.Fatal(err)
	}
	if c.in == nil || len(c.in.Tags) != 0 || aws.ToString(c.in.Policy) == "" || !c.in.BypassPolicyLockoutSafetyCheck {
		t.Fatalf("CreateKey input: tags %v, policy set %v, bypass %v; want no tags, the policy, bypass",
			c.in.Tags, aws.ToString(c.in.Policy) != "", c.in.BypassPolicyLockoutSafetyCheck)
	}
	if keys := keysOf(t, c.Client, id); len(keys) != 1 {
		t.Fatalf("keys tagged %s = %v, want the one key, tagged after its alias", id, keys)
	}
}
