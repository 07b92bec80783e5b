package awsconfig

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
		config.WithHTTPClient(buildableClient()),
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
	cfg.HTTPClient = ownBodies{cfg.HTTPClient}
	return cfg, nil
}

// buildableClient is the SDK's own HTTP client, keeping MaxIdleConnsPerHost
// idle connections per endpoint.
func buildableClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	})
}

// HTTPClient returns the HTTP client Load installs: the SDK's own, behind
// ownBodies. For an aws.Config built without Load (the emulator engines'
// tests, which talk to an emulator with retries off and would see the race
// ownBodies removes as a failed request).
func HTTPClient() aws.HTTPClient { return ownBodies{buildableClient()} }

// maxOwnBody bounds the request bodies ownBodies copies (DynamoDB's largest
// request is 16 MB; larger uploads are streams and go as they are).
const maxOwnBody = 16 << 20

// ownBodies hands the HTTP transport a copy of each request body of known
// size. The SDK closes a request's body as soon as the response headers are
// back, and net/http may still be making its last read of it (for bytes past
// Content-Length) when a fast server has answered: that read fails, and the
// transport closes the connection under the response the SDK is reading
// ("deserialization failed ... use of closed network connection", about one
// request in a few hundred against the local emulator, also reported against
// AWS). The SDK then retries, also a request that was not idempotent and had
// been done (an event bus created twice, a conditional write that
// "fails"). With a copy, closing the SDK's body no longer reaches the
// transport.
type ownBodies struct{ next aws.HTTPClient }

func (c ownBodies) Do(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength <= 0 || r.ContentLength > maxOwnBody {
		return c.next.Do(r)
	}
	b := make([]byte, r.ContentLength) // one buffer of the body's size
	n, err := io.ReadFull(r.Body, b)
	if err != nil && err != io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	b = b[:n] // a short body: the transport reports the length mismatch
	// A shallow copy (WithContext): the headers stay the SDK's, which the
	// transport reads and does not change; only the body is the copy's own.
	own := r.WithContext(r.Context())
	own.Body = io.NopCloser(bytes.NewReader(b))
	own.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return c.next.Do(own)
}
