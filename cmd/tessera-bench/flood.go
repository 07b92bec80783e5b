package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/tessera-saas/tessera/internal/gateway"
	"github.com/tessera-saas/tessera/internal/idtoken"
	"github.com/tessera-saas/tessera/internal/plan"
	"github.com/tessera-saas/tessera/internal/route"
	"github.com/tessera-saas/tessera/internal/settings"
	"github.com/tessera-saas/tessera/internal/throttle"
	"github.com/tessera-saas/tessera/internal/wire"
)

// The flood benchmark: 20 well-behaved tenants at a steady rate under their
// limit, and one tenant of the same tier that sends at 90 % of its rate limit
// ("without the flood") or floods at floodFactor times its rate limit, all through the real local gateway (ID token verification,
// usage-plan limits) and the real handler over loopback HTTP. Each round
// has a "calm" (no flood) and a "flood" window of one second, in alternating
// order (calm first in even rounds, flood first in odd ones), back to back:
// the emulator's occasional stalls (moto holds every client for up to
// seconds now and then) then fall on both conditions alike, instead of
// deciding the p99 of whichever window they hit.
const (
	calmTenants  = 20
	calmRate     = 4.0 // requests per second per well-behaved tenant (basic allows 10)
	floodFactor  = 10
	floodWorkers = 16
	floodRounds  = 90
	floodWindow  = time.Second
	// calmShare is the share of its rate limit the flooding tenant uses
	// outside the flood: it is a well-behaved tenant then.
	calmShare = 0.9
)

type floodResult struct {
	calm, flood         []time.Duration
	calmErrs, floodErrs int64
	sent, refused, ok   int64 // the flooder's requests
	floodRate           float64
}

func measureFlood(ctx context.Context, cfg aws.Config, s settings.Settings, fx []fixture) (floodResult, error) {
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	v, err := idtoken.NewVerifier(idtoken.Config{UserPoolID: s.UserPoolID, ClientID: s.AppClientID,
		JWKSURL: idtoken.JWKSURL(os.Getenv("AWS_ENDPOINT_URL"), s.UserPoolID)})
	if err != nil {
		return floodResult{}, err
	}
	app := wire.NewAPI(cfg, s, quiet, io.Discard)
	gw := gateway.New(v, map[route.Function]gateway.Handler{route.FunctionAPI: app.Handler.Handle}, quiet,
		gateway.WithLimits(wire.NewTierCache(cfg, s), throttle.New()),
		gateway.WithAuthorizerCache(gateway.AuthorizerCacheTTL, wire.MaxCachedTenants))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return floodResult{}, err
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	base := "http://" + l.Addr().String()

	idp := cip.NewFromConfig(cfg)
	n := calmTenants + 1
	tokens := make([]string, n)
	for i := 0; i < n; i++ {
		if tokens[i], err = idtoken.Login(ctx, idp, s.AppClientID, fx[i].email, benchPassword); err != nil {
			return floodResult{}, err
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	get := func(token, path string) (int, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		req.Header.Set("Authorization", token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	// Warm up: caches (JWKS, tenant records, credentials, data keys) and
	// connections, then let the buckets refill.
	for i := 1; i < n; i++ {
		for j := 0; j < 3; j++ {
			if st, err := get(tokens[i], "/v1/orders/"+fx[i].order); err != nil || st != 200 {
				return floodResult{}, fmt.Errorf("warm-up tenant %d: %d %v", i, st, err)
			}
		}
	}
	time.Sleep(2 * time.Second)

	flooder := fx[0]
	lim, _ := plan.For(flooder.rec.Tier)
	var res floodResult
	res.floodRate = lim.RateLimit * floodFactor
	for round := 0; round < floodRounds; round++ {
		order := []bool{false, true}
		if round%2 == 1 {
			order = []bool{true, false}
		}
		for _, flood := range order {
			window, cancel := context.WithTimeout(ctx, floodWindow)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var lat []time.Duration
			var errs int64
			// The 21st tenant: within its limit (calmShare of its rate) in calm
			// windows, floodFactor times its limit in flood windows. Its
			// bucket stays drained, so a flood window never starts with a
			// refilled burst.
			rate, workers := lim.RateLimit*calmShare, 1
			if flood {
				rate, workers = res.floodRate, floodWorkers
			}
			interval := time.Duration(float64(time.Second) * float64(workers) / rate)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					paced(window, time.Now().Add(time.Duration(w)*interval/time.Duration(workers)), interval, func() {
						st, err := get(tokens[0], "/v1/orders/"+flooder.order)
						if !flood {
							return
						}
						atomic.AddInt64(&res.sent, 1)
						switch {
						case err != nil:
						case st == http.StatusTooManyRequests:
							atomic.AddInt64(&res.refused, 1)
						case st == http.StatusOK:
							atomic.AddInt64(&res.ok, 1)
						}
					})
				}()
			}
			for i := 1; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					interval := time.Duration(float64(time.Second) / calmRate)
					// spread the phases
					paced(window, time.Now().Add(time.Duration(i)*interval/time.Duration(n)), interval, func() {
						start := time.Now()
						st, err := get(tokens[i], "/v1/orders/"+fx[i].order)
						d := time.Since(start)
						if err != nil || st != 200 {
							atomic.AddInt64(&errs, 1)
							return
						}
						mu.Lock()
						lat = append(lat, d)
						mu.Unlock()
					})
				}()
			}
			wg.Wait()
			cancel()
			if len(lat) == 0 {
				return floodResult{}, fmt.Errorf("flood round %d: no successful request in a window (%d errors)", round, errs)
			}
			if flood {
				res.flood, res.floodErrs = append(res.flood, lat...), res.floodErrs+errs
			} else {
				res.calm, res.calmErrs = append(res.calm, lat...), res.calmErrs+errs
			}
		}
	}
	return res, nil
}

// paced calls fn at first, first+interval, ... (open loop: a slow call
// delays the next one, never the schedule) until window ends.
func paced(window context.Context, first time.Time, interval time.Duration, fn func()) {
	next := first
	for {
		if d := time.Until(next); d > 0 {
			select {
			case <-window.Done():
				return
			case <-time.After(d):
			}
		}
		if window.Err() != nil {
			return
		}
		next = next.Add(interval)
		fn()
	}
}
