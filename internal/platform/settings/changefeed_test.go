package settings_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/settings"
)

// TestChangeFeedSettings: the change feed settings are empty by default,
// read when both are set (spaces trimmed), and refused, with the variable
// named, when one comes without the other or is not an ARN of its kind.
func TestChangeFeedSettings(t *testing.T) {
	const (
		fn  = "arn:aws:lambda:eu-west-1:123456789012:function:Tessera-dev-App-ChangefeedFunctionA8450CD2-AbCdEf123456"
		dlq = "arn:aws:sqs:eu-west-1:123456789012:Tessera-dev-Data-ChangeFeedDLQE79D28DC-AbCdEf123456"
	)
	for _, tc := range []struct {
		name, fn, dlq string
		// wantErr is "" for settings that load, else a variable the
		// error must name.
		wantErr string
	}{
		{"unset", "", "", ""},
		{"both", fn, dlq, ""},
		{"both-padded", " " + fn + "\n", "\t" + dlq, ""},
		{"other-partition", "arn:aws-cn:lambda:cn-north-1:123456789012:function:f", "arn:aws-cn:sqs:cn-north-1:123456789012:q", ""},
		{"blank-is-unset", "  ", "", ""},
		{"function-only", fn, "", settings.EnvChangeFeedDLQARN},
		{"queue-only", "", dlq, settings.EnvChangeFeedFunctionARN},
		{"function-name", "changefeed", dlq, settings.EnvChangeFeedFunctionARN},
		{"qualified-function", fn + ":live", dlq, settings.EnvChangeFeedFunctionARN},
		{"function-short-account", "arn:aws:lambda:eu-west-1:12345678901:function:f", dlq, settings.EnvChangeFeedFunctionARN},
		{"queue-as-function", dlq, dlq, settings.EnvChangeFeedFunctionARN},
		{"queue-url", fn, "https://sqs.eu-west-1.amazonaws.com/123456789012/q", settings.EnvChangeFeedDLQARN},
		{"function-as-queue", fn, fn, settings.EnvChangeFeedDLQARN},
		{"fifo-queue", fn, "arn:aws:sqs:eu-west-1:123456789012:q.fifo", settings.EnvChangeFeedDLQARN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(settings.EnvChangeFeedFunctionARN, tc.fn)
			t.Setenv(settings.EnvChangeFeedDLQARN, tc.dlq)
			s, err := settings.FromEnv()
			if tc.wantErr != "" {
				if !errors.Is(err, settings.ErrChangeFeed) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("FromEnv = %v, want ErrChangeFeed naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
			if want := strings.TrimSpace(tc.fn); s.ChangeFeedFunctionARN != want {
				t.Errorf("ChangeFeedFunctionARN = %q, want %q", s.ChangeFeedFunctionARN, want)
			}
			if want := strings.TrimSpace(tc.dlq); s.ChangeFeedDLQARN != want {
				t.Errorf("ChangeFeedDLQARN = %q, want %q", s.ChangeFeedDLQARN, want)
			}
		})
	}
	if d := settings.Defaults(); d.ChangeFeedFunctionARN != "" || d.ChangeFeedDLQARN != "" || d.CheckChangeFeed() != nil {
		t.Errorf("Defaults has the change feed settings %q, %q, want none", d.ChangeFeedFunctionARN, d.ChangeFeedDLQARN)
	}
}
