package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
	"github.com/tessera-saas/tessera/internal/wire"
)

// authnRuns is how many warm verifications (g) times.
const authnRuns = 200000

// authnResult is (g): what the api and tenants functions pay per request to
// verify the caller's ID token themselves (tenant.Authenticate through the
// process's idtoken.Cache, as wire builds it), cold and warm.
type authnResult struct {
	cold time.Duration // a new process's first request: JWKS fetch and RS256 check
	warm time.Duration // mean of authnRuns requests of the same token
}

func measureAuthentication(ctx context.Context, cfg aws.Config, s settings.Settings, token string) (authnResult, error) {
	ev := events.APIGatewayProxyRequest{Headers: map[string]string{"Authorization": "Bearer " + token}}
	v, err := wire.NewVerifier(cfg, s)
	if err != nil {
		return authnResult{}, err
	}
	var r authnResult
	start := time.Now()
	if _, err := tenant.Authenticate(ctx, v, ev); err != nil {
		return authnResult{}, fmt.Errorf("verify the bench token: %w", err)
	}
	r.cold = time.Since(start)
	start = time.Now()
	for i := 0; i < authnRuns; i++ {
		if _, err := tenant.Authenticate(ctx, v, ev); err != nil {
			return authnResult{}, err
		}
	}
	r.warm = time.Since(start) / authnRuns
	return r, nil
}

func (r authnResult) report() string {
	return fmt.Sprintf("\n(g) handler-side ID token verification (api and tenants functions), per request, %d requests of one token\n"+
		"    warm cache (SHA-256 of the token + cache hit + claims): %s  (target < 50µs)\n"+
		"    first request in a new process (JWKS fetch from the emulator + RS256 check): %s\n"+
		"    (the code alone: BenchmarkAuthenticateWarm and BenchmarkCacheHit below; BenchmarkVerify is an uncached check)\n",
		authnRuns, fineUs(r.warm), us(r.cold))
}

// fineUs renders d in microseconds with two decimals.
func fineUs(d time.Duration) string { return fmt.Sprintf("%.2fµs", float64(d.Nanoseconds())/1000) }
