package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/tessera-saas/tessera/internal/local/bootstrap"
	"github.com/tessera-saas/tessera/internal/local/emulator"
	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// The emulator's own latency: plain GetItem calls through the SDK (the
// catalog's GetTenant: one GetItem and an unmarshal) at 1 and 8 concurrent
// clients, on moto's werkzeug server (`moto_server`, what the local stack ran
// before) and on the project's server (tools/moto/serve.py: the same moto
// application on waitress, writes isolated). Both run at once on their own
// ports and the rounds alternate between them, so that load from elsewhere
// on the machine falls on both alike.

var (
	engineOnly   = flag.Bool("engine-only", false, "measure only the emulator's GetItem latency, werkzeug moto_server against tools/moto/serve.py, print it, and write it to -engine-out")
	engineOut    = flag.String("engine-out", "bench/engine.txt", "results file of -engine-only")
	engineRounds = flag.Int("engine-rounds", 6, "alternating rounds of the emulator measurement")
)

// engineBatch is how many GetItems each client sends in one round.
const engineBatch = 250

// engineClients are the concurrencies measured.
var engineClients = []int{1, 8}

// engineServer is one moto server under measurement.
type engineServer struct {
	name string
	cmd  *exec.Cmd
	port int
	cat  *store.Catalog
	ids  []string
	lat  map[int][]time.Duration // by clients
	errs map[int]int
}

// runEngineOnly is -engine-only.
func runEngineOnly() error {
	report, err := engineReport(context.Background())
	if err != nil {
		return err
	}
	fmt.Print(report)
	if err := os.MkdirAll(filepath.Dir(*engineOut), 0o755); err != nil {
		return err
	}
	return os.WriteFile(*engineOut, []byte(report), 0o644)
}

// engineReport starts both servers, measures them and renders the figures.
func engineReport(ctx context.Context) (string, error) {
	root, err := emulator.RepoRoot()
	if err != nil {
		return "", err
	}
	python, serve, _ := emulator.Binaries(root)
	werkzeug := filepath.Join(root, ".venv", "bin", "moto_server")
	logDir := filepath.Join(root, ".local", "log")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return "", err
	}
	servers := []*engineServer{
		{name: "before: moto_server (werkzeug)"},
		{name: "after:  tools/moto/serve.py (waitress)"},
	}
	argv := [][]string{{werkzeug}, {python, serve}}
	for i, sv := range servers {
		defer sv.stop()
		if err := sv.start(ctx, argv[i], filepath.Join(logDir, fmt.Sprintf("engine-%d.log", i))); err != nil {
			return "", fmt.Errorf("%s: %w", sv.name, err)
		}
	}
	for _, sv := range servers {
		if err := sv.seed(ctx); err != nil {
			return "", fmt.Errorf("%s: %w", sv.name, err)
		}
	}
	fmt.Fprintf(os.Stderr, "emulator latency: %d rounds of %d GetItems per client at %v clients on each server...\n", *engineRounds, engineBatch, engineClients)
	for round := 0; round < *engineRounds; round++ {
		order := []*engineServer{servers[0], servers[1]}
		if round%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, sv := range order {
			for _, n := range engineClients {
				sv.measure(ctx, n, round == 0)
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "(h) the emulator itself: GetItem through the SDK (store.Catalog.GetTenant, one attempt each), %d alternating rounds of %d per client, both servers running\n", *engineRounds-1, engineBatch)
	fmt.Fprintf(&b, "    machine: %s, %d cores (the first round is a warm-up, not counted)\n", cpuModel(), runtime.NumCPU())
	for _, sv := range servers {
		for _, n := range engineClients {
			l := sv.lat[n]
			if len(l) == 0 {
				fmt.Fprintf(&b, "    %s, %d client(s): no successful request (errors %d)\n", sv.name, n, sv.errs[n])
				continue
			}
			fmt.Fprintf(&b, "    %s, %d client(s): p50 %s  p99 %s  (%d requests, errors %d)\n", sv.name, n, ms(pct(l, 50)), ms(pct(l, 99)), len(l), sv.errs[n])
		}
		fmt.Fprintf(&b, "    %s: %s sockets of its port in TIME_WAIT after its rounds\n", sv.name, timeWait(sv.port))
	}
	return b.String(), nil
}

func (sv *engineServer) start(ctx context.Context, argv []string, logPath string) error {
	for _, f := range argv[:1] {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%w: %s missing", emulator.ErrNotInstalled, f)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sv.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	sv.cmd = exec.Command(argv[0], append(argv[1:], "-H", "127.0.0.1", "-p", strconv.Itoa(sv.port))...)
	sv.cmd.Stdout, sv.cmd.Stderr = logf, logf
	if err := sv.cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	go func() { _ = sv.cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(sv.url() + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("did not answer (see %s): %w", logPath, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (sv *engineServer) stop() {
	if sv.cmd != nil && sv.cmd.Process != nil {
		_ = sv.cmd.Process.Kill()
	}
}

func (sv *engineServer) url() string { return "http://127.0.0.1:" + strconv.Itoa(sv.port) }

// seed creates the tables (the local bootstrap) and 100 tenant records. The
// client is Tessera's (awsconfig), with one attempt per call, so that every
// failure counts.
func (sv *engineServer) seed(ctx context.Context) error {
	cfg, err := awsconfig.Load(ctx, config.WithRegion(emulator.Region), config.WithBaseEndpoint(sv.url()),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(emulator.AccessKey, emulator.SecretKey, "")),
		config.WithRetryMaxAttempts(1))
	if err != nil {
		return err
	}
	s := settings.Defaults()
	if s, err = bootstrap.Run(ctx, cfg, s); err != nil {
		return err
	}
	sv.cat = store.NewCatalog(store.NewClient(cfg), s.CatalogTable)
	now := time.Now().UTC()
	for i := 0; i < 100; i++ {
		rec := catalog.Record{TenantID: tenant.NewID(), Name: fmt.Sprintf("engine-%03d", i), Tier: catalog.TierBasic,
			Status: catalog.StatusActive, Placement: catalog.Placement{Table: s.PooledTable}, AdminEmail: "admin@engine.test",
			CreatedAt: now, UpdatedAt: now, Version: 1}
		if err := sv.cat.CreateTenant(ctx, rec); err != nil {
			return err
		}
		sv.ids = append(sv.ids, rec.TenantID)
	}
	sv.lat, sv.errs = map[int][]time.Duration{}, map[int]int{}
	return nil
}

// measure runs one batch at n clients; a warm-up batch is not recorded.
func (sv *engineServer) measure(ctx context.Context, n int, warmUp bool) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := 0; c < n; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, engineBatch)
			errs := 0
			for i := 0; i < engineBatch; i++ {
				id := sv.ids[(c*engineBatch+i)%len(sv.ids)]
				start := time.Now()
				_, err := sv.cat.GetTenant(ctx, id)
				if err != nil {
					if errs++; errs == 1 {
						fmt.Fprintf(os.Stderr, "%s: %v\n", sv.name, err)
					}
					continue
				}
				lat = append(lat, time.Since(start))
			}
			if warmUp {
				return
			}
			mu.Lock()
			sv.lat[n] = append(sv.lat[n], lat...)
			sv.errs[n] += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
}

// timeWait counts the sockets of port in TIME_WAIT (`ss`), or says why not.
func timeWait(port int) string {
	out, err := exec.Command("ss", "-Htan", "state", "time-wait", fmt.Sprintf("( sport = :%d or dport = :%d )", port, port)).Output()
	if err != nil {
		return "unknown (ss: " + err.Error() + ")"
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(line) != "" {
			n++
		}
	}
	return strconv.Itoa(n)
}
