package wire

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// SecretsManager is the part of Secrets Manager the cursor key is read
// with. *secretsmanager.Client satisfies it.
type SecretsManager interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// listsCursors names the functions that hand out or follow list cursors:
// a deployed stage's must have a cursor key of their own
// (settings.Settings.CheckCursorKey), checked at cold start by Load.
var listsCursors = map[string]bool{"api": true, "tenants": true, "exports": true, "provisioner": true}

// CursorKey is the deployment's list cursor key, shared by every store and
// catalog of the process. With s.CursorSecretARN (a deployed stage) it is
// the secret's value, read once per process on first use, not at cold
// start: most invocations list nothing, and a cold start that needs no
// Secrets Manager call stays fast and cannot fail on one. Otherwise it is
// s.CursorKey, or nil for the store's built-in key (the local stage; Load
// refuses it elsewhere).
func CursorKey(sm SecretsManager, s settings.Settings) *store.CursorKey {
	if s.CursorSecretARN != "" {
		arn := s.CursorSecretARN
		return store.NewCursorKey(func(ctx context.Context) ([]byte, error) {
			out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
			if err != nil {
				return nil, fmt.Errorf("read the cursor key secret: %w", err)
			}
			if out.SecretString != nil {
				return []byte(*out.SecretString), nil
			}
			return out.SecretBinary, nil
		})
	}
	if s.CursorKey != "" {
		key := []byte(s.CursorKey)
		return store.NewCursorKey(func(context.Context) ([]byte, error) { return key, nil })
	}
	return nil
}

// cursorKey is CursorKey with a Secrets Manager client on cfg (building it
// makes no call).
func cursorKey(cfg aws.Config, s settings.Settings) *store.CursorKey {
	return CursorKey(secretsmanager.NewFromConfig(cfg), s)
}
