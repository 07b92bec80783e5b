package edge_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/branding"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/features"
)

// TestEntitlementAndSettingsErrors: the refusals of entitlements, flags
// and settings reach the client with their status, code and message,
// wrapped or not, and are not logged as failures.
func TestEntitlementAndSettingsErrors(t *testing.T) {
	_, settingsErr := branding.Settings{DisplayName: "A", LogoURL: "http://x.test/l.png"}.Validate()
	for _, tc := range []struct {
		name    string
		err     error
		status  int
		code    string
		message string
	}{
		{"not entitled", fmt.Errorf("exports: %w", features.ErrNotEntitled), http.StatusForbidden, edge.CodeNotEntitled, "plan does not include"},
		{"limit reached", fmt.Errorf("%w: the tenant has 3 products; its plan allows 3", features.ErrLimitReached), http.StatusConflict, edge.CodeLimitReached, "the tenant has 3 products; its plan allows 3"},
		{"unknown flag", fmt.Errorf("flag x: %w", features.ErrUnknownFlag), http.StatusBadRequest, edge.CodeUnknownFlag, "no flag"},
		{"bad flag value", fmt.Errorf("value: %w", fmt.Errorf("%w: x is not a boolean value", features.ErrInvalid)), http.StatusBadRequest, edge.CodeValidation, "x is not a boolean value"},
		{"bad settings", settingsErr, http.StatusBadRequest, edge.CodeValidation, "logoUrl must use https"},
	} {
		var logs bytes.Buffer
		resp := edge.Finish(slog.New(slog.NewJSONHandler(&logs, nil)), time.Now(), 0, nil, tc.err)
		var body edge.ErrorBody
		if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
			t.Fatalf("%s: body %q: %v", tc.name, resp.Body, err)
		}
		if resp.StatusCode != tc.status || body.Error.Code != tc.code || !strings.Contains(body.Error.Message, tc.message) {
			t.Errorf("%s: %d %q %q, want %d %q containing %q", tc.name, resp.StatusCode, body.Error.Code, body.Error.Message, tc.status, tc.code, tc.message)
		}
		if strings.Contains(logs.String(), `"level":"ERROR"`) {
			t.Errorf("%s: logged as an error: %s", tc.name, logs.String())
		}
	}
}
