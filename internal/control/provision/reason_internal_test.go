package provision

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// sdkError is an error as the AWS SDK returns it: an operation error
// around an HTTP response error (status, request id) around the service's
// API error. Built by hand because the emulators answer every email the
// pool would refuse, and no step fails on demand.
func sdkError(code, msg string) error {
	return &smithy.OperationError{ServiceID: "Cognito Identity Provider", OperationName: "AdminCreateUser",
		Err: &awshttp.ResponseError{RequestID: "0f3c9a1e-5b7d-4e2a-9c8b-1d2e3f4a5b6c",
			ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 400}},
				Err: &smithy.GenericAPIError{Code: code, Message: msg}}}}
}

// TestReasonsAreStableAndReadable: what a tenant's reason says is the
// failure's code and message, or the error with every SDK error cut down to
// its code and message: no request id, no HTTP status, the same on every
// attempt.
func TestReasonsAreStableAndReadable(t *testing.T) {
	raw := fmt.Errorf("create admin of t-1: %w", sdkError("InvalidParameterException", "Invalid email address format."))
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"a permanent SDK error", permanent(raw), "permanent_failure: create admin of t-1: InvalidParameterException: Invalid email address format."},
		{"a failure with its code", fmt.Errorf("step: %w", &failure{"admin_email_rejected", "the user pool refused the admin email", raw}), "admin_email_rejected: the user pool refused the admin email"},
		{"a failure wrapped as permanent", permanent(&failure{"no_usage_plan", "the deployment has no usage plan for the gold tier", nil}), "no_usage_plan: the deployment has no usage plan for the gold tier"},
		{"the retry budget", exhausted(5, raw), "retries_exhausted: gave up after 5 attempts: create admin of t-1: InvalidParameterException: Invalid email address format."},
		{"a plain error", permanent(errors.New("stack x is ROLLBACK_COMPLETE")), "permanent_failure: stack x is ROLLBACK_COMPLETE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, errPermanent) {
				t.Errorf("%v is not permanent", tt.err)
			}
			got := reasonOf(tt.err)
			if got != tt.want {
				t.Errorf("reason\n got %q\nwant %q", got, tt.want)
			}
			if strings.Contains(got, "RequestID") || strings.Contains(got, "StatusCode") {
				t.Errorf("reason carries SDK details: %q", got)
			}
		})
	}
	long := reasonOf(permanent(errors.New(strings.Repeat("é", 400))))
	if len(long) > maxReason || !strings.HasPrefix(long, "permanent_failure: é") || strings.ContainsRune(long, '\uFFFD') {
		t.Errorf("a long reason is %d bytes, or cut inside a rune: %q", len(long), long[len(long)-8:])
	}
}

// TestRecheckDelaysBackOffAndEnd: the first FastChecks re-checks come
// CheckDelay apart, later ones double up to SQS's maximum, and the waits add
// up to MaxWait after a bounded number of re-checks.
func TestRecheckDelaysBackOffAndEnd(t *testing.T) {
	p := New(Deps{})
	if got := p.recheckDelay(1); got != DefaultCheckDelay {
		t.Fatalf("first re-check after %s", got)
	}
	if got := p.recheckDelay(FastChecks); got != DefaultCheckDelay {
		t.Fatalf("re-check %d after %s", FastChecks, got)
	}
	if got := p.recheckDelay(FastChecks + 1); got != 2*DefaultCheckDelay {
		t.Fatalf("re-check %d after %s, want the delay doubled", FastChecks+1, got)
	}
	if got := p.recheckDelay(1000); got != 15*time.Minute {
		t.Fatalf("a late re-check after %s, want SQS's 15-minute maximum", got)
	}
	n := 0
	for p.waited(n) < MaxWait {
		n++
		if n > 1000 {
			t.Fatal("re-checks never reach MaxWait")
		}
	}
	t.Logf("%d re-checks wait %s", n, p.waited(n))
}
