package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/tessera-saas/tessera/internal/local/gateway"
	"github.com/tessera-saas/tessera/internal/local/throttle"
	"github.com/tessera-saas/tessera/internal/platform/idtoken"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/wire"
)

// The flood benchmark: 20 well-behaved tenants at a steady rate under their
// limit, and one tenant of the same tier that sends at 90 % of its rate limit
// ("without the flood") or floods at floodFactor times its rate limit, all
// through the real local gateway (the tenant authorizer, usage-plan limits)
// and the real handler over loopback HTTP. Each round has a "calm" (no
// flood) and a "flood" window of one second, in alternating order (calm
// first in even rounds, flood first in odd ones), back to back: the
// emulator's occasional stalls then fall on both conditions alike, instead
// of deciding the p99 of whichever window they hit.
//
// The flooding tenant is another customer: its client runs in a process of
// its own (this program with -flooder), as it would in the world, so its
// client-side work (its HTTP client, its garbage) is not charged to the
// process that serves and measures the others. What the flood costs the
// server (reading, verifying, limiting and answering its requests) is.
const (
	calmTenants  = 20
	calmRate     = 4.0 // requests per second per well-behaved tenant (basic allows 10)
	floodWorkers = 16
	floodWindow  = time.Second
	warmRounds   = 5
	// calmShare is the share of its rate limit the flooding tenant uses
	// outside the flood: it is a well-behaved tenant then.
	calmShare = 0.9
)

// floodRounds and floodFactor are the -flood-rounds and -flood-factor flags.
// -flood-factor 0.9 makes the "flood" windows as calm as the others: an A/A
// run that shows how far the p99 ratio moves by chance.
// 120 rounds (4 minutes of windows): with 90, the bootstrap interval of
// the p99 ratio reached about ±0.1 around its estimate.
var (
	floodRounds         = 120
	floodFactor float64 = 10
)

type floodResult struct {
	calm, flood         []time.Duration
	byRound             [2][][]time.Duration // the well-behaved tenants' latencies per round: calm, flood
	calmErrs, floodErrs int64
	sent, refused, ok   int64 // the flooder's requests in the flood windows
	floodRate           float64
}

func measureFlood(ctx context.Context, cfg aws.Config, s settings.Settings, fx []fixture) (floodResult, error) {
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	v, err := wire.NewVerifier(cfg, s)
	if err != nil {
		return floodResult{}, err
	}
	app := wire.NewAPI(cfg, s, quiet, io.Discard)
	flusherCtx, stopFlusher := context.WithCancel(ctx) // the ledger's writes, as in the local gateway
	defer stopFlusher()
	go app.RunUsageFlusher(flusherCtx)
	gw := gateway.New(v, map[route.Function]gateway.Handler{route.FunctionAPI: app.Handler.Handle}, quiet,
		gateway.WithAuthorizer(wire.NewAuthorizer(cfg, s, quiet).Handle),
		gateway.WithLimits(throttle.New()),
		gateway.WithAuthorizerCache(gateway.AuthorizerCacheTTL, wire.MaxCachedTokens))
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
	// Warm up: caches (JWKS, tenant records, credentials, data keys) and
	// connections, then let the buckets refill.
	for i := 1; i < n; i++ {
		for j := 0; j < 3; j++ {
			if st, err := get(ctx, client, base+"/v1/orders/"+fx[i].order, tokens[i]); err != nil || st != 200 {
				return floodResult{}, fmt.Errorf("warm-up tenant %d: %d %v", i, st, err)
			}
		}
	}

	lim, _ := plan.For(fx[0].rec.Tier)
	var res floodResult
	res.floodRate = lim.RateLimit * floodFactor
	fl, err := startFlooder(ctx, base+"/v1/orders/"+fx[0].order, tokens[0], lim.RateLimit, floodFactor)
	if err != nil {
		return floodResult{}, err
	}
	defer fl.stop()
	time.Sleep(2 * time.Second)

	// The first warmRounds rounds are not recorded: they warm the emulator
	// and every connection under both conditions.
	for round := -warmRounds; round < floodRounds; round++ {
		order := []bool{false, true}
		if (round+warmRounds)%2 == 1 {
			order = []bool{true, false}
		}
		for _, flood := range order {
			if err := fl.start(flood); err != nil {
				return floodResult{}, err
			}
			window, cancel := context.WithTimeout(ctx, floodWindow)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var lat []time.Duration
			var errs int64
			for i := 1; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					interval := time.Duration(float64(time.Second) / calmRate)
					// spread the phases
					paced(window, time.Now().Add(time.Duration(i)*interval/time.Duration(n)), interval, func() {
						start := time.Now()
						st, err := get(ctx, client, base+"/v1/orders/"+fx[i].order, tokens[i])
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
			sent, refused, ok, err := fl.wait()
			if err != nil {
				return floodResult{}, err
			}
			if len(lat) == 0 {
				return floodResult{}, fmt.Errorf("flood round %d: no successful request in a window (%d errors)", round, errs)
			}
			switch {
			case round < 0:
			case flood:
				res.flood, res.floodErrs = append(res.flood, lat...), res.floodErrs+errs
				res.byRound[1] = append(res.byRound[1], lat)
				res.sent, res.refused, res.ok = res.sent+sent, res.refused+refused, res.ok+ok
			default:
				res.calm, res.calmErrs = append(res.calm, lat...), res.calmErrs+errs
				res.byRound[0] = append(res.byRound[0], lat)
			}
		}
	}
	return res, nil
}

func get(ctx context.Context, client *http.Client, url, token string) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// flooder is the flooding tenant's client, a child process driven one
// window at a time over its standard input and output.
type flooder struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

// startFlooder starts `tessera-bench -flooder URL -flooder-limit RATE
// -flood-factor F` and hands it the tenant's ID token on its standard input
// (never on its command line, where ps would show it).
func startFlooder(ctx context.Context, url, token string, limit, factor float64) (*flooder, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "-flooder", url, "-flooder-limit", strconv.FormatFloat(limit, 'f', -1, 64),
		"-flood-factor", strconv.FormatFloat(factor, 'f', -1, 64))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the flooder: %w", err)
	}
	f := &flooder{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	if _, err := io.WriteString(in, token+"\n"); err != nil {
		f.stop()
		return nil, fmt.Errorf("start the flooder: %w", err)
	}
	return f, nil
}

func (f *flooder) start(flood bool) error {
	cmd := "calm\n"
	if flood {
		cmd = "flood\n"
	}
	if _, err := io.WriteString(f.in, cmd); err != nil {
		return fmt.Errorf("flooder: %w", err)
	}
	return nil
}

// wait returns the window's counts: requests sent, refused with 429, served.
func (f *flooder) wait() (sent, refused, ok int64, err error) {
	if !f.out.Scan() {
		return 0, 0, 0, fmt.Errorf("flooder ended: %v", f.out.Err())
	}
	if _, err := fmt.Sscan(f.out.Text(), &sent, &refused, &ok); err != nil {
		return 0, 0, 0, fmt.Errorf("flooder said %q: %w", f.out.Text(), err)
	}
	return sent, refused, ok, nil
}

func (f *flooder) stop() {
	f.in.Close()
	_ = f.cmd.Wait()
}

// runFlooder is the child's side: the first line of standard input is the
// ID token; each further line, "calm" or "flood", runs one window (at
// calmShare of limit with one worker, or at floodFactor times limit with
// floodWorkers) and answers "sent refused served". The tenant's bucket stays
// drained, so a flood window never starts with a refilled burst.
func runFlooder(url string, limit float64) error {
	ctx := context.Background()
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() {
		return fmt.Errorf("flooder: no token on standard input")
	}
	token := in.Text()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	for in.Scan() {
		flood := in.Text() == "flood"
		rate, workers := limit*calmShare, 1
		if flood {
			rate, workers = limit*floodFactor, floodWorkers
			if floodFactor < 1 {
				workers = 1
			}
		}
		window, cancel := context.WithTimeout(ctx, floodWindow)
		var sent, refused, ok int64
		var wg sync.WaitGroup
		interval := time.Duration(float64(time.Second) * float64(workers) / rate)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				paced(window, time.Now().Add(time.Duration(w)*interval/time.Duration(workers)), interval, func() {
					st, err := get(ctx, client, url, token)
					atomic.AddInt64(&sent, 1)
					switch {
					case err != nil:
					case st == http.StatusTooManyRequests:
						atomic.AddInt64(&refused, 1)
					case st == http.StatusOK:
						atomic.AddInt64(&ok, 1)
					}
				})
			}()
		}
		wg.Wait()
		cancel()
		fmt.Printf("%d %d %d\n", sent, refused, ok)
	}
	return in.Err()
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
