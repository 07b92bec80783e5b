package settings_test

import (
	"errors"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/settings"
)

func TestCheckCursorKey(t *testing.T) {
	for _, tc := range []struct {
		name, stage, secret, key string
		ok                       bool
	}{
		{"local-builtin", "local", "", "", true},
		{"deployed-builtin", "dev", "", "", false},
		{"prod-builtin", "prod", "", "", false},
		{"deployed-secret", "dev", "arn:aws:secretsmanager:us-east-1:123456789012:secret:cursor-AbCdEf", "", true},
		{"deployed-explicit-key", "dev", "", "k", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(settings.EnvStage, tc.stage)
			t.Setenv(settings.EnvCursorSecretARN, tc.secret)
			t.Setenv(settings.EnvCursorKey, tc.key)
			s, err := settings.FromEnv()
			if err != nil {
				t.Fatal(err)
			}
			if s.CursorSecretARN != tc.secret {
				t.Errorf("CursorSecretARN = %q, want %q", s.CursorSecretARN, tc.secret)
			}
			err = s.CheckCursorKey()
			if tc.ok && err != nil || !tc.ok && !errors.Is(err, settings.ErrBuiltinCursorKey) {
				t.Errorf("CheckCursorKey = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
