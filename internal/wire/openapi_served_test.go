package wire_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/wire"
	"github.com/tessera-saas/tessera/internal/wire/openapi"
)

// TestAPIServesTheOpenAPIDocument: the api function answers
// GET /v1/openapi.json without any token (the route is public, so no
// verifier is even consulted: these settings have none) with the document
// openapi.Document builds, the one checked in as api/openapi.json.
func TestAPIServesTheOpenAPIDocument(t *testing.T) {
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h := wire.NewAPI(aws.Config{Region: "us-east-1"}, settings.Defaults(), quiet, nil).Handler
	ev := events.APIGatewayProxyRequest{HTTPMethod: "GET", Resource: "/v1/openapi.json", Path: "/v1/openapi.json"}
	resp, err := h.Handle(context.Background(), ev)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Headers["Content-Type"] != "application/json" {
		t.Fatalf("GET /v1/openapi.json = %d %v %v %.200s, want 200 application/json", resp.StatusCode, resp.Headers, err, resp.Body)
	}
	want, err := openapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, want); err != nil {
		t.Fatal(err)
	}
	if resp.Body != compact.String() {
		t.Fatalf("served document (%d bytes) is not openapi.Document (%d bytes compacted)", len(resp.Body), compact.Len())
	}
}
