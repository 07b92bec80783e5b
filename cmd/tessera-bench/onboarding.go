package main

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/tessera-saas/tessera/internal/local/pump"
	"github.com/tessera-saas/tessera/internal/local/seed"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/idtoken"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/wire"
)

const onboardRuns = 10

type onboardResult struct {
	tier        string
	median, max time.Duration
	calls       int
	breakdown   string
}

// callCounter counts AWS API calls (not retries) by service and operation.
type callCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *callCounter) install(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("tesseraBenchCount",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				c.mu.Lock()
				c.n[awsmiddleware.GetServiceID(ctx)+"."+awsmiddleware.GetOperationName(ctx)]++
				c.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
}

func (c *callCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

func measureOnboarding(ctx context.Context, base aws.Config, s settings.Settings, log *slog.Logger) ([]onboardResult, error) {
	counter := &callCounter{n: map[string]int{}}
	cfg := base.Copy()
	counter.install(&cfg)
	tenants := wire.NewTenants(cfg, s, log)
	prov := wire.NewProvisioner(cfg, s, log)
	p := pump.New(sqs.NewFromConfig(cfg), s.ProvisioningQueueURL, prov.Handle, pump.WithLogger(log), pump.WithWaitTime(0))
	cat := store.NewCatalog(store.NewClient(base), s.CatalogTable)
	// The operator API verifies the caller's token itself: a real operator.
	idp := cip.NewFromConfig(base)
	opEmail := fmt.Sprintf("bench-operator-%d@bench.test", time.Now().UnixNano())
	if err := seed.EnsureOperator(ctx, idp, s.UserPoolID, opEmail, benchPassword); err != nil {
		return nil, err
	}
	opToken, err := idtoken.Login(ctx, idp, s.AppClientID, opEmail, benchPassword)
	if err != nil {
		return nil, err
	}
	var results []onboardResult
	for _, tier := range []string{"basic", "premium"} {
		var times []time.Duration
		var perRun map[string]int
		for i := 0; i < onboardRuns; i++ {
			before := counter.snapshot()
			start := time.Now()
			ev := events.APIGatewayProxyRequest{HTTPMethod: "POST", Resource: "/v1/tenants",
				Headers: map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + opToken},
				Body:    fmt.Sprintf(`{"name":"Onboard %s %d","tier":"%s","adminEmail":"onboard-%s-%d-%d@bench.test"}`, tier, i, tier, tier, i, time.Now().UnixNano())}
			ev.RequestContext.RequestID = fmt.Sprintf("bench-%s-%d", tier, i)
			resp, err := tenants.Handle(ctx, ev)
			if err != nil || resp.StatusCode != 202 {
				return nil, fmt.Errorf("create tenant: %v %d %s", err, resp.StatusCode, resp.Body)
			}
			id := between(resp.Body, `"tenantId":"`, `"`)
			for {
				if _, err := p.Once(ctx); err != nil {
					return nil, err
				}
				rec, err := cat.GetTenant(ctx, id)
				if err != nil {
					return nil, err
				}
				if rec.Status == catalog.StatusActive {
					break
				}
				if rec.Status == catalog.StatusFailed || time.Since(start) > time.Minute {
					return nil, fmt.Errorf("onboarding %s: %s %s", id, rec.Status, rec.Reason)
				}
			}
			times = append(times, time.Since(start))
			after := counter.snapshot()
			perRun = map[string]int{}
			for k, v := range after {
				if d := v - before[k]; d > 0 {
					perRun[k] = d
				}
			}
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		total, keys := 0, make([]string, 0, len(perRun))
		for k, v := range perRun {
			total += v
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %d", k, perRun[k]))
		}
		results = append(results, onboardResult{tier: tier, median: times[len(times)/2], max: times[len(times)-1],
			calls: total, breakdown: strings.Join(parts, ", ")})
	}
	return results, nil
}

func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i+len(from):]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return s
}
