package awsconfig

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
)

// MaxAttempts bounds the SDK's standard retryer (throttling and transient
// errors are retried with jittered backoff).
const MaxAttempts = 4

// maxAttempts is MaxAttempts, or the SDK's standard AWS_MAX_ATTEMPTS when
// set (the emulator environment raises it).
func maxAttempts() int {
	if v, err := strconv.Atoi(os.Getenv("AWS_MAX_ATTEMPTS")); err == nil && v > 0 {
		return v
	}
	return MaxAttempts
}

// MaxIdleConnsPerHost is how many idle connections the shared HTTP client
// keeps per endpoint. The SDK's default (10) suits a Lambda environment,
// which serves one request at a time; a process serving many tenants at
// once (the local gateway, the benchmarks) would otherwise close and reopen
// connections on every burst.
const MaxIdleConnsPerHost = 100

// Load returns the shared AWS configuration. Call it once, at cold start.
// Endpoints come from AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> when set
// (the SDK resolves them itself), credentials from the default chain, cached by
// the SDK.
func Load(ctx context.Context, optFns ...func(*config.LoadOptions) error) (aws.Config, error) {
	opts := append([]func(*config.LoadOptions) error{
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
		})),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = maxAttempts() })
		}),
	}, optFns...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load aws config: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("load aws config: no region: set AWS_REGION")
	}
	return cfg, nil
}
