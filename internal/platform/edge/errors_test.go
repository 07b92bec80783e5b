package edge_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// TestFencedWritesAreRetryableUnavailable: a write refused by a
// placement's fence is a 503 the client retries, never a 500: a
// migration's fence (or one already gone when the store read it) answers
// tenant_migrating with Retry-After 2, a restore's answers tenant_restoring
// with Retry-After 5, wrapped or not.
func TestFencedWritesAreRetryableUnavailable(t *testing.T) {
	since := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		err        error
		code       string
		retryAfter string
	}{
		{"migration fence", fmt.Errorf("create product: %w", &store.FencedError{Fence: store.Fence{Reason: store.FenceMigrating, JobID: "j-1", Since: since}}),
			edge.CodeTenantMigrating, "2"},
		{"fence gone before it was read", fmt.Errorf("delete order x: %w", &store.FencedError{}), edge.CodeTenantMigrating, "2"},
		{"restore fence", fmt.Errorf("update product x: %w", &store.FencedError{Fence: store.Fence{Reason: store.FenceRestoring, JobID: "j-2", Since: since}}),
			edge.CodeTenantRestoring, "5"},
	}
	for _, tc := range tests {
		for _, wrapped := range []bool{false, true} {
			err := tc.err
			name := tc.name
			if wrapped {
				err, name = fmt.Errorf("handler: %w", err), name+" wrapped"
			}
			t.Run(name, func(t *testing.T) {
				if !errors.Is(err, store.ErrFenced) {
					t.Fatalf("%v does not wrap ErrFenced", err)
				}
				var logs bytes.Buffer
				resp := edge.Finish(slog.New(slog.NewJSONHandler(&logs, nil)), time.Now(), 0, nil, err)
				var body edge.ErrorBody
				if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
					t.Fatalf("body %q: %v", resp.Body, err)
				}
				if resp.StatusCode != http.StatusServiceUnavailable || body.Error.Code != tc.code || body.Error.Message == "" {
					t.Fatalf("got %d %q %q, want 503 %q", resp.StatusCode, body.Error.Code, body.Error.Message, tc.code)
				}
				if resp.Headers["Retry-After"] != tc.retryAfter {
					t.Fatalf("Retry-After %q, want %q", resp.Headers["Retry-After"], tc.retryAfter)
				}
				if strings.Contains(logs.String(), `"msg":"request failed"`) || strings.Contains(resp.Body, "j-1") {
					t.Fatalf("a fenced write was treated as unexpected: %s %s", logs.String(), resp.Body)
				}
			})
		}
	}
}
