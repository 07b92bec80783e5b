// Command tessera-bench measures the cost of isolation on the local stack
// (run by `make bench`, never by the tests): (a) the multi-tenant tax, p50 and
// p99 of the full isolated request path against a baseline handler making the
// same DynamoDB calls with plain credentials and no encryption, in paired
// rounds with confidence intervals, and the CPU time this process spends per
// request on each (tax.go); (b) STS and
// KMS calls per 10,000 requests spread over 100 tenants; (c) the api
// function's init time and binary size; (d) onboarding; (e) metering; (f)
// the noisy neighbour; (g) the handlers' own ID token verification per
// request with a warm cache. It prints the figures and writes them to
// bench/results.txt. With -scale it runs only the scale model of STS and KMS
// calls at 1,000 to 100,000 tenants (scale.go), a simulation, and writes
// bench/scale.txt.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/tessera-saas/tessera/internal/app/tenantapi"
	"github.com/tessera-saas/tessera/internal/control/apikey"
	"github.com/tessera-saas/tessera/internal/local/bootstrap"
	"github.com/tessera-saas/tessera/internal/local/emulator"
	"github.com/tessera-saas/tessera/internal/local/seed"
	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/idtoken"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/wire"
)

func main() {
	tenants := flag.Int("tenants", 100, "tenants to spread requests over")
	taxRequests := flag.Int("tax-requests", 1500, "requests per variant for the metering overhead")
	flag.IntVar(&taxRounds, "tax-rounds", taxRounds, "paired rounds of the tax measurement")
	flag.IntVar(&taxPerRound, "tax-per-round", taxPerRound, "requests per variant and round of the tax measurement")
	callRequests := flag.Int("call-requests", 10000, "requests for the STS/KMS call count")
	out := flag.String("out", "bench/results.txt", "results file")
	floodOnly := flag.Bool("flood-only", false, "run only the noisy-neighbour benchmark and print it (the results file is left alone)")
	flag.BoolVar(&taxOnly, "tax-only", false, "run only the multi-tenant tax (a) and print it (the results file is left alone)")
	flag.IntVar(&floodRounds, "flood-rounds", floodRounds, "rounds (a calm and a flood window each) of the noisy-neighbour benchmark")
	flag.Float64Var(&floodFactor, "flood-factor", floodFactor, "the flooding tenant's rate in flood windows, in multiples of its rate limit (0.9: an A/A run)")
	flooderURL := flag.String("flooder", "", "internal: run as the flooding tenant's client against this URL, driven over standard input")
	flooderLimit := flag.Float64("flooder-limit", 0, "internal: the flooding tenant's rate limit (requests/s)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	memProfile := flag.String("memprofile", "", "write an allocation profile of the run to this file (one sample per 512 bytes allocated)")
	scale := flag.Bool("scale", false, "run only the scale model of STS and KMS calls (a simulation: no emulator) and write it to -scale-out")
	scaleOut := flag.String("scale-out", "bench/scale.txt", "the scale model's results file")
	flag.Parse()
	if *backupOnly {
		if err := runBackupOnly(); err != nil {
			fmt.Fprintln(os.Stderr, "tessera-bench:", err)
			os.Exit(1)
		}
		return
	}
	if *fleetOnly {
		if err := runFleetOnly(); err != nil {
			fmt.Fprintln(os.Stderr, "tessera-bench:", err)
			os.Exit(1)
		}
		return
	}
	if *migrateOnly {
		if err := runMigrateOnly(); err != nil {
			fmt.Fprintln(os.Stderr, "tessera-bench:", err)
			os.Exit(1)
		}
		return
	}
	if *engineOnly {
		if err := runEngineOnly(); err != nil {
			fmt.Fprintln(os.Stderr, "tessera-bench:", err)
			os.Exit(1)
		}
		return
	}
	if *flooderURL != "" {
		if err := runFlooder(*flooderURL, *flooderLimit); err != nil {
			fmt.Fprintln(os.Stderr, "tessera-bench:", err)
			os.Exit(1)
		}
		return
	}
	if *scale {
		if err := writeScale(*scaleOut); err != nil {
			fmt.Fprintln(os.Stderr, "tessera-bench:", err)
			os.Exit(1)
		}
		return
	}
	if *floodOnly {
		*tenants = calmTenants + 1
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "tessera-bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		runtime.MemProfileRate = 512
	}
	if err := run(*tenants, *taxRequests, *callRequests, *out, *floodOnly); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "tessera-bench:", err)
		os.Exit(1)
	}
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err == nil {
			err = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "tessera-bench:", err)
			os.Exit(1)
		}
	}
}

type fixture struct {
	rec     catalog.Record
	product string // a product id (isolated handler)
	order   string // an order id written by the isolated handler
	bOrder  string // an order id written by the baseline handler
	email   string // the tenant admin's sign-in
	token   string // the tenant admin's ID token
}

const benchPassword = "Bench-Passw0rd-Long"

// motoRelease names the moto server that requirements.txt pins, and how the
// stack serves it, for the report.
const motoRelease = "moto 5.2.1 on waitress, writes isolated (tools/moto/serve.py)"

func run(nTenants, taxN, callN int, outPath string, floodOnly bool) error {
	ctx := context.Background()
	if os.Getenv("AWS_ENDPOINT_URL") == "" {
		st, err := emulator.Start(ctx, emulator.Options{})
		if err != nil {
			return err
		}
		defer st.Stop()
		for k, v := range st.Env() {
			os.Setenv(k, v)
		}
	}
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return err
	}
	s, err := settings.FromEnv()
	if err != nil {
		return err
	}
	if s, err = bootstrap.Run(ctx, cfg, s); err != nil {
		return err
	}
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))

	fmt.Fprintf(os.Stderr, "seeding %d tenants...\n", nTenants)
	deps := seed.Deps{Catalog: store.NewCatalog(store.NewClient(cfg), s.CatalogTable), IDP: cip.NewFromConfig(cfg),
		KMS: kms.NewFromConfig(cfg), Settings: s, Partition: "aws", Account: emulator.Account,
		APIKeys: apikey.New(apigateway.NewFromConfig(cfg), s.Stage, s.UsagePlanIDs)} // the tenant authorizer needs each tenant's key
	isolated := wire.NewAPI(cfg, s, quiet, io.Discard)
	baseline, err := newBaseline(cfg, s, quiet)
	if err != nil {
		return err
	}
	fx := make([]fixture, nTenants)
	for i := range fx {
		fx[i].email = fmt.Sprintf("bench-%03d-%d@bench.test", i, time.Now().UnixNano())
		rec, err := seed.Ensure(ctx, deps, seed.Spec{Name: fmt.Sprintf("bench-%03d", i), Tier: catalog.TierBasic,
			AdminEmail: fx[i].email, Password: benchPassword})
		if err != nil {
			return err
		}
		fx[i].rec = rec
		if fx[i].token, err = idtoken.Login(ctx, deps.IDP, s.AppClientID, fx[i].email, benchPassword); err != nil {
			return err
		}
		if fx[i].product, err = create(ctx, isolated.Handler, fx[i].token, "/v1/products", fmt.Sprintf(`{"name":"P","sku":"SKU-%d","price":{"amount":100,"currency":"EUR"}}`, i)); err != nil {
			return err
		}
		orderBody := `{"productId":"` + fx[i].product + `","quantity":1,"customer":{"name":"Customer Name","email":"customer@example.com"}}`
		if fx[i].order, err = create(ctx, isolated.Handler, fx[i].token, "/v1/orders", orderBody); err != nil {
			return err
		}
		if fx[i].bOrder, err = create(ctx, baseline, fx[i].token, "/v1/orders", orderBody); err != nil {
			return err
		}
	}

	if floodOnly {
		fmt.Fprintf(os.Stderr, "flood: %d rounds of %s calm + %s flood windows...\n", floodRounds, floodWindow, floodWindow)
		flood, err := measureFlood(ctx, cfg, s, fx)
		if err != nil {
			return err
		}
		fmt.Print(floodReport(flood, motoRelease))
		return nil
	}

	// (a) the multi-tenant tax: paired rounds, same requests, same emulator
	// (tax.go), with the process's CPU time per request.
	fmt.Fprintf(os.Stderr, "measuring the tax over %d rounds of %d requests per variant...\n", taxRounds, taxPerRound)
	tax, err := measureTax(ctx, isolated.Handler, baseline, fx, taxRounds, taxPerRound)
	if err != nil {
		return err
	}
	if taxOnly {
		fmt.Print(tax.report(len(fx)))
		return nil
	}

	// (e) metering overhead: the same reads through the handler with and
	// without metering (EMF line + hourly aggregation), interleaved.
	fmt.Fprintf(os.Stderr, "measuring the metering overhead over %d requests per variant...\n", taxN)
	metered, unmetered := wire.NewAPI(cfg, s, quiet, io.Discard), wire.NewAPI(cfg, s, quiet, nil)
	var withM, withoutM []time.Duration
	for i := 0; i < taxN; i++ {
		f := fx[i%len(fx)]
		hs := []*tenantapi.Handler{metered.Handler, unmetered.Handler}
		if i%2 == 1 {
			hs[0], hs[1] = hs[1], hs[0]
		}
		for _, h := range hs {
			start := time.Now()
			if _, err := call(ctx, h, f.token, "GET", "/v1/orders/{id}", f.order, ""); err != nil {
				return err
			}
			if h == metered.Handler {
				withM = append(withM, time.Since(start))
			} else {
				withoutM = append(withoutM, time.Since(start))
			}
		}
	}

	// (f) noisy neighbour: one tenant floods at 10x its rate limit.
	fmt.Fprintf(os.Stderr, "flood: %d rounds of %s calm + %s flood windows...\n", floodRounds, floodWindow, floodWindow)
	flood, err := measureFlood(ctx, cfg, s, fx)
	if err != nil {
		return err
	}
	floodText := floodReport(flood, motoRelease)

	// (b) STS and KMS calls per callN requests over the tenants, with fresh
	// caches as in a new Lambda environment.
	fmt.Fprintf(os.Stderr, "counting AWS calls over %d requests...\n", callN)
	fresh := wire.NewAPI(cfg, s, quiet, io.Discard)
	callStart := time.Now()
	for i := 0; i < callN; i++ {
		f := fx[i%len(fx)]
		var err error
		switch (i / len(fx)) % 10 { // every tenant sees the whole mix
		case 0:
			_, err = create(ctx, fresh.Handler, f.token, "/v1/orders", `{"productId":"`+f.product+`","quantity":1,"customer":{"name":"N","email":"n@example.com"}}`)
		case 1, 2:
			_, err = call(ctx, fresh.Handler, f.token, "GET", "/v1/products/{id}", f.product, "")
		default:
			_, err = call(ctx, fresh.Handler, f.token, "GET", "/v1/orders/{id}", f.order, "")
		}
		if err != nil {
			return err
		}
	}
	callElapsed := time.Since(callStart)
	stsCalls := fresh.Credentials.AssumeRoleCalls()
	kst := fresh.Envelope.Stats()

	// (d) onboarding: request to ACTIVE through the bus, queue and
	// provisioner, and the AWS calls one onboarding makes.
	fmt.Fprintf(os.Stderr, "onboarding %d pooled and %d premium tenants...\n", onboardRuns, onboardRuns)
	onboarding, err := measureOnboarding(ctx, cfg, s, quiet)
	if err != nil {
		return err
	}

	// (c) init time and binary size.
	initTimes := make([]time.Duration, 0, 25)
	for i := 0; i < 25; i++ {
		start := time.Now()
		c, err := awsconfig.Load(ctx)
		if err != nil {
			return err
		}
		st, err := settings.FromEnv()
		if err != nil {
			return err
		}
		_ = wire.NewAPI(c, st, quiet, io.Discard)
		initTimes = append(initTimes, time.Since(start))
	}
	size, err := binarySize()
	if err != nil {
		return err
	}

	// (g) the handlers' own token verification, per request, warm cache.
	fmt.Fprintf(os.Stderr, "measuring the handler-side token verification...\n")
	authn, err := measureAuthentication(ctx, cfg, s, fx[0].token)
	if err != nil {
		return err
	}

	var b strings.Builder
	fmt.Fprintf(&b, "Tessera benchmark, %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "machine: %s, %d cores, %s/%s, %s; emulators: %s + local-kms\n\n", cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), motoRelease)
	b.WriteString(tax.report(len(fx)))
	fmt.Fprintf(&b, "(b) AWS calls for %d requests over %d tenants, fresh caches (%.0f req/s)\n", callN, len(fx), float64(callN)/callElapsed.Seconds())
	fmt.Fprintf(&b, "    STS AssumeRole: %d (%.1f per tenant)\n", stsCalls, float64(stsCalls)/float64(len(fx)))
	fmt.Fprintf(&b, "    KMS GenerateDataKey: %d  Decrypt: %d  (%.2f KMS calls per tenant)\n", kst.GenerateDataKeyCalls, kst.DecryptCalls, float64(kst.GenerateDataKeyCalls+kst.DecryptCalls)/float64(len(fx)))
	fmt.Fprintf(&b, "    data-key cache: seal hits %d misses %d, open hits %d misses %d\n\n", kst.SealHits, kst.SealMisses, kst.OpenHits, kst.OpenMisses)
	fmt.Fprintf(&b, "(c) api function: init (AWS config + settings + wiring, no AWS call) median %s, p99 %s over %d runs\n", us(pct(initTimes, 50)), us(pct(initTimes, 99)), len(initTimes))
	fmt.Fprintf(&b, "    binary (linux/arm64, -tags lambda.norpc, -s -w): %.1f MiB (%d bytes)\n\n", float64(size)/(1<<20), size)
	fmt.Fprintf(&b, "(d) onboarding on the emulator, request to ACTIVE (operator API -> outbox -> bus -> queue -> provisioner), %d runs each\n", onboardRuns)
	for _, o := range onboarding {
		fmt.Fprintf(&b, "    %-8s median %s  max %s  AWS calls per onboarding: %d (%s)\n", o.tier, ms(o.median), ms(o.max), o.calls, o.breakdown)
	}
	fmt.Fprintf(&b, "\n(e) metering overhead, GET /v1/orders/{id}, %d requests per variant, interleaved\n", taxN)
	fmt.Fprintf(&b, "    with metering p50 %s  mean %s;  without p50 %s  mean %s;  difference of means %+dµs (%+.2f%%)\n",
		ms(pct(withM, 50)), ms(mean(withM)), ms(pct(withoutM, 50)), ms(mean(withoutM)), (mean(withM) - mean(withoutM)).Microseconds(),
		100*(float64(mean(withM))/float64(mean(withoutM))-1))
	fmt.Fprintf(&b, "    (the metering code alone: see BenchmarkEmit and BenchmarkAggregatorAdd below)\n\n")
	b.WriteString(floodText)
	b.WriteString(authn.report())
	fmt.Print(b.String())
	if err := os.MkdirAll(filepath.Dir(outPath), 0o755); err != nil {
		return err
	}
	return os.WriteFile(outPath, []byte(b.String()), 0o644)
}

// floodReport renders the noisy-neighbour figures.
func floodReport(flood floodResult, engine string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "(f) noisy neighbour through the local gateway over HTTP: %d basic tenants at %.0f req/s each; one more basic tenant sends at %.0f req/s (%.0f%% of its limit), or floods at %.0f req/s (%gx its %v req/s limit)\n",
		calmTenants, calmRate, calmShare*flood.floodRate/floodFactor, 100*calmShare, flood.floodRate, floodFactor, flood.floodRate/floodFactor)
	fmt.Fprintf(&b, "    DynamoDB: %s\n", engine)
	fmt.Fprintf(&b, "    %d alternating windows of %s each\n", 2*floodRounds, floodWindow)
	fmt.Fprintf(&b, "    without flood: %d requests, p50 %s  p99 %s  (errors %d)\n", len(flood.calm), ms(pct(flood.calm, 50)), ms(pct(flood.calm, 99)), flood.calmErrs)
	fmt.Fprintf(&b, "    with flood:    %d requests, p50 %s  p99 %s  (errors %d)\n", len(flood.flood), ms(pct(flood.flood, 50)), ms(pct(flood.flood, 99)), flood.floodErrs)
	fmt.Fprintf(&b, "    flooder in the flood windows: %d sent, %d refused with 429, %d served\n", flood.sent, flood.refused, flood.ok)
	r, lo, hi := bootstrapRatio(flood.byRound[1], flood.byRound[0], 99, 2000, 3)
	fmt.Fprintf(&b, "    p99 ratio flood/no flood: %.3fx [95%% bootstrap CI over rounds %.3f, %.3f]  (target <= 1.2x)\n", r, lo, hi)
	return b.String()
}

func pick(isolated bool, f fixture) string {
	if isolated {
		return f.order
	}
	return f.bOrder
}

// newBaseline is the same handler with the isolation taken out: the
// function's own credentials and no encryption. It verifies tokens as the
// isolated one does (that is not isolation: see (g)).
func newBaseline(cfg aws.Config, s settings.Settings, log *slog.Logger) (*tenantapi.Handler, error) {
	ddb := store.NewClient(cfg)
	tenants := catalog.NewCache(store.NewCatalog(ddb, s.CatalogTable), s.CatalogTTL, wire.MaxCachedTenants)
	tokens, err := wire.NewVerifier(cfg, s)
	if err != nil {
		return nil, err
	}
	// Writes are audited as in the isolated handler (one PutItem each).
	return tenantapi.New(tenants, store.New(ddb, plaintext{}, store.WithCatalogTable(s.CatalogTable)), nil, log).WithVerifier(tokens), nil
}

// plaintext stores fields as they are: the baseline without encryption.
type plaintext struct{}

func (plaintext) Seal(_ context.Context, _ crypto.Key, _ crypto.Field, p []byte) ([]byte, error) {
	return p, nil
}
func (plaintext) Open(_ context.Context, _ crypto.Key, _ crypto.Field, c []byte) ([]byte, error) {
	return c, nil
}

// event is a request of the user whose ID token is token; the handler
// verifies it (requestContext.authorizer is not read).
func event(token, method, resource, id, body string) events.APIGatewayProxyRequest {
	ev := events.APIGatewayProxyRequest{HTTPMethod: method, Resource: resource, Body: body,
		Headers: map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + token}}
	if id != "" {
		ev.PathParameters = map[string]string{"id": id}
	}
	ev.RequestContext.RequestID = "bench"
	return ev
}

func call(ctx context.Context, h *tenantapi.Handler, token, method, resource, id, body string) (map[string]any, error) {
	resp, err := h.Handle(ctx, event(token, method, resource, id, body))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: %d %s", method, resource, resp.StatusCode, resp.Body)
	}
	var m map[string]any
	if resp.Body != "" {
		if err := json.Unmarshal([]byte(resp.Body), &m); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func create(ctx context.Context, h *tenantapi.Handler, token, resource, body string) (string, error) {
	m, err := call(ctx, h, token, "POST", resource, "", body)
	if err != nil {
		return "", err
	}
	id, _ := m["id"].(string)
	return id, nil
}

func binarySize() (int64, error) {
	dir, err := os.MkdirTemp("", "tessera-bench-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./functions/api")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("build functions/api: %w", err)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func pct(ds []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[i]
}

func mean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }
func ms(d time.Duration) string        { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }
func us(d time.Duration) string        { return fmt.Sprintf("%dµs", d.Microseconds()) }

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			if i := strings.Index(line, ":"); i >= 0 {
				return strings.TrimSpace(line[i+1:])
			}
		}
	}
	return "unknown CPU"
}
