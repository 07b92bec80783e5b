package apifuzz_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/logging"

	"github.com/tessera-saas/tessera/internal/local/gateway"
	"github.com/tessera-saas/tessera/internal/local/pump"
	"github.com/tessera-saas/tessera/internal/local/seed"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/local/throttle"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/idtoken"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
	"github.com/tessera-saas/tessera/internal/wire"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// checks are what every answer must pass: no 5xx, and conformance to the
// document in status code, content type, headers and body schema.
const checks = "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance"

// Bounds of each run (TESSERA_FUZZ_EXAMPLES, TESSERA_FUZZ_SECONDS override
// them): together about three minutes on a 2-core machine.
const (
	defaultExamples = 40
	defaultSeconds  = 75
)

// TestSchemathesis runs schemathesis over the document the stack serves
// (GET /v1/openapi.json): every phase (the document's examples, its
// coverage of boundaries and of invalid inputs, random fuzzing, and stateful
// sequences along its links), once as a tenant admin over the tenant routes
// and once as an operator over the operator routes.
func TestSchemathesis(t *testing.T) {
	if testing.Short() {
		t.Skip("schema fuzzing skipped in -short mode")
	}
	if os.Getenv("TESSERA_EMULATOR") == "localstack" {
		t.Skip("schema fuzzing checks the API against its document, not the emulator: it runs in the moto pass of `make test`")
	}
	bin := schemathesis(t)
	e := testenv.Setup(t)
	url := startStack(t, e)

	ctx := context.Background()
	idp := cip.NewFromConfig(e.Config)
	// A standard tenant: its usage plan (50 requests/s, burst 100) leaves
	// room to fuzz (a 429 the runs meet all the same is in the document).
	email := "fuzz-admin-" + tenant.NewID()[2:12] + "@fuzz.test"
	if _, err := seed.Ensure(ctx, fixture.SeedDeps(e), seed.Spec{Name: "Fuzz", Tier: catalog.TierStandard, AdminEmail: email, Password: fixture.Password}); err != nil {
		t.Fatal(err)
	}
	adminToken := fixture.Login(t, e, email)
	opEmail := "fuzz-operator-" + tenant.NewID()[2:12] + "@tessera.test"
	if err := seed.EnsureOperator(ctx, idp, e.Settings.UserPoolID, opEmail, fixture.Password); err != nil {
		t.Fatal(err)
	}
	opToken, err := idtoken.Login(ctx, idp, e.Settings.AppClientID, opEmail, fixture.Password)
	if err != nil {
		t.Fatal(err)
	}

	runs := []struct {
		name, tags, token string
	}{
		{"tenant admin", "^(tenant|public)$", adminToken},
		{"operator", "^operator$", opToken},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) { run(t, bin, url, r.tags, r.token) })
	}
}

// run is one schemathesis run over the operations tagged tags, with token
// in every request's Authorization header.
func run(t *testing.T, bin, url, tags, token string) {
	examples, seconds := envInt(t, "TESSERA_FUZZ_EXAMPLES", defaultExamples), envInt(t, "TESSERA_FUZZ_SECONDS", defaultSeconds)
	reports := t.TempDir()
	args := []string{"run", url + "/v1/openapi.json", "--url", url,
		"--include-tag-regex", tags,
		"--phases", "examples,coverage,fuzzing,stateful",
		"--checks", checks,
		"--max-examples", strconv.Itoa(examples),
		"--max-time", strconv.Itoa(seconds),
		// One worker: CPython 3.11's AST validator is not thread-safe,
		// and hypothesis parses lambdas while generating ("AST
		// constructor recursion depth mismatch" with two).
		"--workers", "1",
		// Below the standard plan's 50 requests/s, so the runs test the
		// logic behind the limits rather than the limits.
		"--rate-limit", "40/s",
		"--request-timeout", "30",
		"--generation-database", "none",
		"--report", "junit", "--report-dir", reports,
		"--no-color",
		"-H", "Authorization: " + token,
	}
	if s := os.Getenv("TESSERA_FUZZ_SEED"); s != "" {
		args = append(args, "--seed", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds+120)*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir() // schemathesis writes nothing into the repository
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start).Round(time.Second)
	// The output is sanitized (schemathesis masks the Authorization
	// header), so it can be shown whole.
	if err != nil {
		t.Fatalf("schemathesis (%s, %d examples per operation, %d s budget, %s) failed (%v):\n%s\n%s", tags, examples, seconds, took, err, out.String(), serverErrors())
	}
	t.Logf("schemathesis (%s, %d examples per operation, %d s budget): passed in %s\n%s", tags, examples, seconds, took, out.String())
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive whole number", name, v)
	}
	return n
}

// schemathesis is the pinned CLI in .venv-fuzz; missing, the test skips,
// except in CI (CI=true), where that is a failure.
func schemathesis(t *testing.T) string {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, ".venv-fuzz", "bin", "schemathesis")
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing: `make tools` installs it (requirements-fuzz.txt)", bin)
		}
		t.Skipf("SKIPPING schema fuzzing: %s missing (run `make tools`)", bin)
	}
	return bin
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// answers counts the stack's answers by route and status, so that a run
// shows what it reached (creates that succeeded, not only refusals).
var answers = &tally{n: map[string]map[int]int{}}

type tally struct {
	mu sync.Mutex
	n  map[string]map[int]int
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (c *tally) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		key := "(no route)"
		if rt, _, _, ok := route.Match(r.Method, r.URL.EscapedPath()); ok {
			key = rt.Name
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.n[key] == nil {
			c.n[key] = map[int]int{}
		}
		c.n[key][sw.status]++
	})
}

func (c *tally) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var lines []string
	total := 0
	for k, byStatus := range c.n {
		var parts []string
		for st, n := range byStatus {
			parts = append(parts, fmt.Sprintf("%d×%d", st, n))
			total += n
		}
		slices.Sort(parts)
		lines = append(lines, fmt.Sprintf("  %-17s %s", k, strings.Join(parts, " ")))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + fmt.Sprintf("\n  total %d", total)
}

// logs holds the stack's log lines, shown (errors only) when a run fails.
var logs = &lockedBuffer{}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// retries reports the SDK's retries (the stack's calls to the emulators).
func retries() string {
	logs.mu.Lock()
	defer logs.mu.Unlock()
	var first []string
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(logs.b.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, `"msg":"aws sdk"`) && !strings.Contains(l, "unretryable") {
			if n++; n <= 5 {
				first = append(first, l)
			}
		}
	}
	return fmt.Sprintf("SDK retries: %d\n%s", n, strings.Join(first, "\n"))
}

func serverErrors() string {
	logs.mu.Lock()
	defer logs.mu.Unlock()
	var sb strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(logs.b.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		// The request path's errors; not the provisioner's, which refuses
		// fuzzed tenants (an admin email taken, ...) by design.
		if l := sc.Text(); strings.Contains(l, `"level":"ERROR"`) && !strings.Contains(l, `"function":"provisioner"`) && n < 30 {
			fmt.Fprintln(&sb, l)
			n++
		}
	}
	// The whole log, for what the lines above do not explain.
	f, err := os.CreateTemp("", "tessera-apifuzz-*.log")
	where := ""
	if err == nil {
		_, _ = f.Write(logs.b.Bytes())
		f.Close()
		where = " (the stack's whole log: " + f.Name() + ")"
	}
	if n == 0 {
		return "the stack logged no errors" + where
	}
	return "the stack's errors" + where + ":\n" + sb.String()
}

// startStack serves the api and tenants handlers behind the local gateway,
// as `tessera up` does (tenant authorizer with its result cache, usage-plan
// limits), and runs the provisioner on its queue, so that the tenants the
// operator run creates are onboarded. Both stop with the test.
func startStack(t *testing.T, e *testenv.Env) string {
	t.Helper()
	log := slog.New(slog.NewJSONHandler(logs, nil))
	// The SDK's retries go to the log too: a retried write whose first
	// attempt was applied is what a 5xx here has turned out to be.
	cfg := e.Config.Copy()
	cfg.ClientLogMode |= aws.LogRetries
	cfg.Logger = logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		log.Warn("aws sdk", "classification", string(c), "message", fmt.Sprintf(format, v...))
	})
	e = &testenv.Env{Config: cfg, Settings: e.Settings}
	v, err := wire.NewVerifier(e.Config, e.Settings)
	if err != nil {
		t.Fatal(err)
	}
	app := wire.NewAPI(e.Config, e.Settings, log.With("function", "api"), io.Discard)
	tenants := wire.NewTenants(e.Config, e.Settings, log.With("function", "tenants"))
	gw := gateway.New(v, map[route.Function]gateway.Handler{
		route.FunctionAPI:     app.Handler.Handle,
		route.FunctionTenants: tenants.Handle,
	}, log.With("component", "gateway"),
		gateway.WithAuthorizer(wire.NewAuthorizer(e.Config, e.Settings, log.With("function", "authorizer")).Handle),
		gateway.WithLimits(throttle.New()),
		gateway.WithAuthorizerCache(gateway.AuthorizerCacheTTL, wire.MaxCachedTokens))
	srv := httptest.NewServer(answers.count(gw))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { t.Logf("answers by route and status:\n%s\n%s", answers, retries()) })

	ctx, cancel := context.WithCancel(context.Background())
	prov := wire.NewProvisioner(e.Config, e.Settings, log.With("function", "provisioner"))
	p := pump.New(sqs.NewFromConfig(e.Config), e.Settings.ProvisioningQueueURL, prov.Handle, pump.WithLogger(log.With("component", "pump")))
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	resp, err := http.Get(srv.URL + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/openapi.json = %d, want 200", resp.StatusCode)
	}
	return srv.URL
}
