package tenantkey

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/tessera-saas/tessera/internal/platform/access"
)

// KMS is the part of the KMS API that manages tenant keys. *kms.Client
// satisfies it.
type KMS interface {
	CreateKey(ctx context.Context, in *kms.CreateKeyInput, optFns ...func(*kms.Options)) (*kms.CreateKeyOutput, error)
	CreateAlias(ctx context.Context, in *kms.CreateAliasInput, optFns ...func(*kms.Options)) (*kms.CreateAliasOutput, error)
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	DisableKey(ctx context.Context, in *kms.DisableKeyInput, optFns ...func(*kms.Options)) (*kms.DisableKeyOutput, error)
	ScheduleKeyDeletion(ctx context.Context, in *kms.ScheduleKeyDeletionInput, optFns ...func(*kms.Options)) (*kms.ScheduleKeyDeletionOutput, error)
	TagResource(ctx context.Context, in *kms.TagResourceInput, optFns ...func(*kms.Options)) (*kms.TagResourceOutput, error)
}

// Deletion windows KMS allows, in days.
const (
	MinPendingDays int32 = 7
	MaxPendingDays int32 = 30
)

// cleanupTimeout bounds the deletion of a key that lost the alias race, which
// runs even when the caller's context is already done.
const cleanupTimeout = 10 * time.Second

var (
	// ErrInvalidTenantID means the tenant id cannot name a key alias. No KMS
	// call was made.
	ErrInvalidTenantID = errors.New("tenantkey: invalid tenant id")
	// ErrInvalidStage means the stage cannot name a key alias. No KMS call
	// was made.
	ErrInvalidStage = errors.New("tenantkey: invalid stage")
	// ErrRetired means the tenant's key is pending deletion: the tenant was
	// offboarded and its data crypto-shredded. Ensure does not make a new key.
	ErrRetired = errors.New("tenantkey: key is pending deletion")
)

// Alias is the alias of tenantID's key in stage.
func Alias(stage, tenantID string) string { return access.KeyAlias(stage, tenantID) }

// validate checks the stage (1 to 12 lowercase letters and digits, beginning
// with a letter, as infra's stage pattern) and the tenant id.
func validate(stage, tenantID string) error {
	ok := len(stage) >= 1 && len(stage) <= 12 && stage[0] >= 'a' && stage[0] <= 'z'
	for i := 0; ok && i < len(stage); i++ {
		c := stage[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
	}
	if !ok {
		return fmt.Errorf("%w: %q", ErrInvalidStage, stage)
	}
	return ValidateTenantID(tenantID)
}

// ValidateTenantID checks that id can name a key: 2 to 63 lowercase letters,
// digits or '-', beginning with a letter or digit.
func ValidateTenantID(id string) error {
	if len(id) < 2 || len(id) > 63 {
		return fmt.Errorf("%w: %q: length %d, want 2..63", ErrInvalidTenantID, id, len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '-') {
			return fmt.Errorf("%w: %q: character %d", ErrInvalidTenantID, id, i)
		}
	}
	return nil
}

// Ensure returns the ARN of tenantID's key in stage, creating the key and
// its alias if they do not exist. The alias alone says which key is the
// tenant's. A new key is symmetric (ENCRYPT_DECRYPT) and gets policy as its
// key policy when policy is not empty (otherwise KMS applies its default
// policy). It is created untagged, aliased, and then tagged tenantId=<id>
// and stage=<stage> (access.KeyTags): tags on CreateKey need kms:TagResource
// in an IAM policy on every key of the account, while the tenant key's own
// policy lets the provisioner set exactly these two tags on this one key
// (access.TenantKeyPolicy). Ensure sets the tags again on an existing key
// (they can only be set to these values), which completes a key whose
// tagging a crash interrupted.
//
// Ensure is idempotent and safe to run concurrently for one tenant. A
// caller whose CreateAlias loses the race schedules the deletion of the key
// it just made and returns the winner's. A key whose alias could not be
// created for another reason is scheduled for deletion too, so no
// unreachable key is left to pay for. A process that dies between CreateKey
// and CreateAlias (or loses CreateKey's response) does leave one behind:
// untagged and without an alias, so nothing refers to it or mistakes it for
// the tenant's key; the next Ensure makes a fresh key. An existing key is
// returned whatever its state, except pending deletion (ErrRetired):
// enabling a disabled key is the lifecycle's decision, not Ensure's.
func Ensure(ctx context.Context, c KMS, stage, tenantID string, policy []byte) (string, error) {
	if err := validate(stage, tenantID); err != nil {
		return "", fmt.Errorf("ensure key: %w", err)
	}
	arn, found, err := describe(ctx, c, Alias(stage, tenantID))
	if err != nil {
		return "", fmt.Errorf("ensure key of %s: %w", tenantID, err)
	}
	if !found {
		in := &kms.CreateKeyInput{
			KeyUsage:    types.KeyUsageTypeEncryptDecrypt,
			KeySpec:     types.KeySpecSymmetricDefault,
			Description: aws.String("Tessera " + stage + " tenant " + tenantID),
		}
		if len(policy) > 0 {
			in.Policy = aws.String(string(policy))
			// KMS's lockout check wants the caller able to replace the
			// policy later. The provisioner, on purpose, cannot (it holds
			// no kms:PutKeyPolicy); the account root can, so the key stays
			// manageable by the account's administrators
			// (access.TenantKeyPolicy).
			in.BypassPolicyLockoutSafetyCheck = true
		}
		out, err := c.CreateKey(ctx, in)
		if err != nil {
			return "", fmt.Errorf("ensure key of %s: create key: %w", tenantID, err)
		}
		if out.KeyMetadata == nil || out.KeyMetadata.Arn == nil {
			return "", fmt.Errorf("ensure key of %s: create key: no key ARN in response", tenantID)
		}
		if arn, err = claimAlias(ctx, c, stage, tenantID, *out.KeyMetadata.Arn); err != nil {
			return "", err
		}
	}
	if err := tag(ctx, c, stage, tenantID, arn); err != nil {
		return "", err
	}
	return arn, nil
}

// tag sets the tenant and stage tags of the tenant's key.
func tag(ctx context.Context, c KMS, stage, tenantID, arn string) error {
	tags := access.KeyTags(stage, tenantID)
	in := &kms.TagResourceInput{KeyId: aws.String(arn)}
	for _, k := range []string{access.TenantTag, access.StageTag} {
		in.Tags = append(in.Tags, types.Tag{TagKey: aws.String(k), TagValue: aws.String(tags[k])})
	}
	if _, err := c.TagResource(ctx, in); err != nil {
		return fmt.Errorf("ensure key of %s: tag key %s: %w", tenantID, arn, err)
	}
	return nil
}

// claimAlias points the tenant's alias at key, unless another key holds it.
// It returns the key the alias points to afterwards; a key of ours that
// lost is scheduled for deletion, so no unreachable key is left behind.
func claimAlias(ctx context.Context, c KMS, stage, tenantID, mine string) (string, error) {
	alias := Alias(stage, tenantID)
	_, aliasErr := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(mine)})
	if aliasErr == nil {
		return mine, nil
	}
	// The error may hide a success (the response was lost) or a lost race:
	// the alias itself says which key is the tenant's.
	arn, found, err := describe(ctx, c, alias)
	if err != nil {
		return "", fmt.Errorf("ensure key of %s: create alias: %w (then: %w)", tenantID, aliasErr, err)
	}
	if found && sameKey(arn, mine) {
		return arn, nil
	}
	if err := discard(ctx, c, mine); err != nil {
		return "", fmt.Errorf("ensure key of %s: create alias: %w (and the new key %s is left behind: %w)", tenantID, aliasErr, mine, err)
	}
	if !found {
		return "", fmt.Errorf("ensure key of %s: create alias: %w", tenantID, aliasErr)
	}
	return arn, nil // another provisioner won the race; its key is the tenant's
}

// sameKey compares key ARNs or ids.
func sameKey(a, b string) bool {
	id := func(s string) string {
		if i := strings.LastIndex(s, "/"); i >= 0 {
			return s[i+1:]
		}
		return s
	}
	return id(a) == id(b)
}

// EnsureRecovering is Ensure for a retry after a crash. It finds the key an
// earlier attempt made by the tenant's alias (DescribeKey on
// "alias/tessera/<stage>/tenant/<id>"), as Ensure does, and never by
// listing the account's keys and their tags: a tag proves nothing (whoever
// may tag keys can give any key the tenant's tags), while only the
// provisioner and the account's administrators can create the tenant's
// alias. A key an earlier attempt created but never aliased is untagged
// (Ensure tags after aliasing) and stays unused; a key it aliased but never
// tagged gets its tags now.
func EnsureRecovering(ctx context.Context, c KMS, stage, tenantID string, policy []byte) (string, error) {
	return Ensure(ctx, c, stage, tenantID, policy)
}

// Retire disables tenantID's key in stage and schedules its deletion after pendingDays
// (7 to 30). Once it has run, nothing can use the key: every value sealed
// under it is unreadable, backups included. Retire is idempotent: a key
// already pending deletion, or no key at all under the tenant's alias, is
// success. The alias is kept, so Ensure reports ErrRetired rather than
// silently making the tenant a new key; KMS deletes it with the key.
func Retire(ctx context.Context, c KMS, stage, tenantID string, pendingDays int32) error {
	if err := validate(stage, tenantID); err != nil {
		return fmt.Errorf("retire key: %w", err)
	}
	if pendingDays < MinPendingDays || pendingDays > MaxPendingDays {
		return fmt.Errorf("retire key of %s: pending window %d days, want %d..%d", tenantID, pendingDays, MinPendingDays, MaxPendingDays)
	}
	md, err := metadata(ctx, c, Alias(stage, tenantID))
	var nf *types.NotFoundException
	switch {
	case errors.As(err, &nf):
		return nil
	case err != nil:
		return fmt.Errorf("retire key of %s: %w", tenantID, err)
	case pendingDeletion(md.KeyState):
		return nil
	}
	keyID := aws.ToString(md.Arn)

	// Disable first: even if scheduling fails, nothing can use the key.
	if md.KeyState != types.KeyStateDisabled {
		if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(keyID)}); err != nil {
			if retiredMeanwhile(ctx, c, keyID, err) {
				return nil
			}
			return fmt.Errorf("retire key of %s: disable key: %w", tenantID, err)
		}
	}
	if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{
		KeyId: aws.String(keyID), PendingWindowInDays: aws.Int32(pendingDays),
	}); err != nil {
		if retiredMeanwhile(ctx, c, keyID, err) {
			return nil
		}
		return fmt.Errorf("retire key of %s: schedule key deletion: %w", tenantID, err)
	}
	return nil
}

// retiredMeanwhile tells whether err, from DisableKey or ScheduleKeyDeletion,
// only means that a concurrent Retire got there first: the key is now pending
// deletion.
func retiredMeanwhile(ctx context.Context, c KMS, keyID string, err error) bool {
	var invalid *types.KMSInvalidStateException
	if !errors.As(err, &invalid) {
		return false
	}
	md, derr := metadata(ctx, c, keyID)
	return derr == nil && pendingDeletion(md.KeyState)
}

// discard schedules the deletion of a key nobody can reach, with the shortest
// window, even when ctx is already done.
func discard(ctx context.Context, c KMS, keyARN string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{
		KeyId: aws.String(keyARN), PendingWindowInDays: aws.Int32(MinPendingDays),
	}); err != nil {
		return fmt.Errorf("schedule deletion of %s: %w", keyARN, err)
	}
	return nil
}

// describe returns the ARN of the key behind alias; found is false when the
// alias does not exist. A key pending deletion is ErrRetired.
func describe(ctx context.Context, c KMS, alias string) (arn string, found bool, err error) {
	md, err := metadata(ctx, c, alias)
	var nf *types.NotFoundException
	if errors.As(err, &nf) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if pendingDeletion(md.KeyState) {
		return "", false, fmt.Errorf("%s: %w", alias, ErrRetired)
	}
	if md.Arn == nil {
		return "", false, fmt.Errorf("describe key %s: no key ARN in response", alias)
	}
	return *md.Arn, true, nil
}

func metadata(ctx context.Context, c KMS, keyID string) (*types.KeyMetadata, error) {
	out, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return nil, fmt.Errorf("describe key %s: %w", keyID, err)
	}
	if out.KeyMetadata == nil {
		return nil, fmt.Errorf("describe key %s: no metadata in response", keyID)
	}
	return out.KeyMetadata, nil
}

func pendingDeletion(s types.KeyState) bool {
	return s == types.KeyStatePendingDeletion || s == types.KeyStatePendingReplicaDeletion
}
