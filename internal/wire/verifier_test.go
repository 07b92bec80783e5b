package wire_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/wire"
)

// TestHandlersFailClosedWithoutAVerifier: settings that name no usable user
// pool and app client make the handlers refuse every request (500), never
// serve one unverified, and Load refuses them at the cold start of each
// function that verifies tokens.
func TestHandlersFailClosedWithoutAVerifier(t *testing.T) {
	s := settings.Defaults() // no pool, no app client
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	ev := events.APIGatewayProxyRequest{HTTPMethod: "GET", Resource: "/v1/products", Headers: map[string]string{"Authorization": "Bearer x.y.z"}}
	resp, err := wire.NewAPI(aws.Config{Region: "us-east-1"}, s, quiet, nil).Handler.Handle(context.Background(), ev)
	if err != nil || resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("api: %d %v, want 500", resp.StatusCode, err)
	}
	ev.Resource = "/v1/tenants"
	resp, err = wire.NewTenants(aws.Config{Region: "us-east-1"}, s, quiet).Handle(context.Background(), ev)
	if err != nil || resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("tenants: %d %v, want 500", resp.StatusCode, err)
	}
	if _, err := wire.NewAuthorizer(aws.Config{Region: "us-east-1"}, s, quiet).Handle(context.Background(), events.APIGatewayCustomAuthorizerRequestTypeRequest{
		MethodArn: "arn:aws:execute-api:us-east-1:123456789012:a/s/GET/v1/products", Headers: map[string]string{"Authorization": "x.y.z"}}); err == nil || err.Error() == "Unauthorized" {
		t.Fatalf("authorizer: err = %v, want a failure that is not a 401", err)
	}

	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv(settings.EnvUserPoolID, "")
	t.Setenv(settings.EnvAppClientID, "")
	for _, fn := range []string{"api", "tenants", "authorizer"} {
		if _, _, _, err := wire.Load(context.Background(), fn); err == nil || !strings.Contains(err.Error(), "verifies ID tokens") {
			t.Errorf("Load(%s) = %v, want a refusal of settings without a user pool", fn, err)
		}
	}
}
