package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Account and credentials the emulators accept. They are not secrets. The
// access key is the account id: LocalStack takes a 12-digit access key id for
// the account it names (any other for 000000000000); moto and local-kms
// accept any key.
const (
	Region    = "us-east-1"
	Account   = "123456789012"
	AccessKey = Account
	SecretKey = "testing"
)

// ErrNotInstalled means the emulator binaries are missing: run `make tools`.
var ErrNotInstalled = errors.New("emulator not installed (run `make tools`)")

// Stack is a running local AWS stack.
type Stack struct {
	// Engine is Moto or LocalStack.
	Engine string
	// Endpoint is moto server's URL, for every service but KMS (on
	// LocalStack: LocalStack's, for every service).
	Endpoint string
	// KMSEndpoint is local-kms's URL (on LocalStack: Endpoint).
	KMSEndpoint string

	procs  []*exec.Cmd
	kmsDir string
}

// Options configure Start.
type Options struct {
	// Engine is Moto or LocalStack; empty: what TESSERA_EMULATOR names,
	// else Moto. MotoPort, when set, is LocalStack's port too.
	Engine string
	// Root is the repository root; default: found by walking up to go.mod.
	Root string
	// LogDir receives moto.log and local-kms.log; default: <Root>/.local/log.
	LogDir string
	// MotoPort and KMSPort fix the ports; 0 picks free loopback ports.
	MotoPort, KMSPort int
}

// Binaries returns, under root, the interpreter of the project's .venv, the
// moto server it runs (tools/moto/serve.py: moto's application served by
// waitress, with DynamoDB and SQS writes isolated) and local-kms.
func Binaries(root string) (python, motoServer, kms string) {
	return filepath.Join(root, ".venv", "bin", "python"), filepath.Join(root, "tools", "moto", "serve.py"),
		filepath.Join(root, ".local", "bin", "local-kms")
}

// errPortTaken: the port picked for a server was bound by another process
// first (see ports.go).
var errPortTaken = errors.New("another server took the port")

// Start launches moto server and local-kms and waits until both answer, or,
// when the engine is LocalStack, LocalStack alone. When another process
// takes a port picked for it before its server binds it, it starts again on
// new ports (up to three times).
func Start(ctx context.Context, o Options) (*Stack, error) {
	for attempt := 1; ; attempt++ {
		s, err := start(ctx, o)
		if errors.Is(err, errPortTaken) && attempt < 3 && o.MotoPort == 0 && o.KMSPort == 0 {
			continue
		}
		return s, err
	}
}

func start(ctx context.Context, o Options) (*Stack, error) {
	if o.Root == "" {
		r, err := RepoRoot()
		if err != nil {
			return nil, err
		}
		o.Root = r
	}
	if o.LogDir == "" {
		o.LogDir = filepath.Join(o.Root, ".local", "log")
	}
	if o.Engine == "" {
		o.Engine = os.Getenv(EngineEnv)
	}
	switch eng, err := engine(o.Engine); {
	case err != nil:
		return nil, err
	case eng == LocalStack:
		return startLocalStack(ctx, o)
	}
	python, motoServer, kmsBin := Binaries(o.Root)
	for _, b := range []string{python, motoServer, kmsBin} {
		if _, err := os.Stat(b); err != nil {
			return nil, fmt.Errorf("%w: %s missing", ErrNotInstalled, b)
		}
	}
	if err := os.MkdirAll(o.LogDir, 0o755); err != nil {
		return nil, fmt.Errorf("start emulator: %w", err)
	}
	s := &Stack{Engine: Moto}
	ok := false
	defer func() {
		if !ok {
			s.Stop()
		}
	}()

	motoPort, err := freePort(o.MotoPort)
	if err != nil {
		return nil, err
	}
	moto := exec.Command(python, motoServer, "-H", "127.0.0.1", "-p", strconv.Itoa(motoPort))
	if err := s.launch(moto, filepath.Join(o.LogDir, "moto.log")); err != nil {
		return nil, err
	}
	s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(motoPort)

	kmsPort, err := freePort(o.KMSPort)
	if err != nil {
		return nil, err
	}
	s.kmsDir, err = os.MkdirTemp("", "tessera-kms-")
	if err != nil {
		return nil, fmt.Errorf("start local-kms: %w", err)
	}
	kms := exec.Command(kmsBin)
	kms.Env = append(os.Environ(),
		"PORT="+strconv.Itoa(kmsPort),
		"KMS_ACCOUNT_ID="+Account,
		"KMS_REGION="+Region,
		"KMS_DATA_PATH="+s.kmsDir,
		"KMS_SEED_PATH="+filepath.Join(s.kmsDir, "no-seed.yaml"),
	)
	if err := s.launch(kms, filepath.Join(o.LogDir, "local-kms.log")); err != nil {
		return nil, err
	}
	s.KMSEndpoint = "http://127.0.0.1:" + strconv.Itoa(kmsPort)

	if err := waitReady(ctx, s.Endpoint+"/moto-api/", "GET", moto, motoPort); err != nil {
		return nil, fmt.Errorf("moto server did not answer (see %s): %w", filepath.Join(o.LogDir, "moto.log"), err)
	}
	if err := waitReady(ctx, s.KMSEndpoint+"/", "POST", kms, kmsPort); err != nil {
		return nil, fmt.Errorf("local-kms did not answer (see %s): %w", filepath.Join(o.LogDir, "local-kms.log"), err)
	}
	ok = true
	return s, nil
}

// exited reports whether the process cmd started has ended (/proc has no
// running process of its pid, or it is a zombie).
func exited(cmd *exec.Cmd) bool {
	if runtime.GOOS != "linux" || cmd.Process == nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
	if err != nil {
		return true
	}
	// pid (comm) state ...: the state follows the last ')'.
	rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
	return strings.HasPrefix(strings.TrimSpace(rest), "Z")
}

func (s *Stack) launch(cmd *exec.Cmd, logPath string) error {
	logf, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("start %s: %w", filepath.Base(cmd.Path), err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", filepath.Base(cmd.Path), err)
	}
	s.procs = append(s.procs, cmd)
	go func() { _ = cmd.Wait(); logf.Close() }()
	return nil
}

// Env is the environment that points AWS SDKs (and the tessera binaries) at
// this stack.
func (s *Stack) Env() map[string]string {
	env := map[string]string{
		"AWS_ENDPOINT_URL":      s.Endpoint,
		"AWS_ENDPOINT_URL_KMS":  s.KMSEndpoint,
		"AWS_REGION":            Region,
		"AWS_ACCESS_KEY_ID":     AccessKey,
		"AWS_SECRET_ACCESS_KEY": SecretKey,
		"AWS_MAX_ATTEMPTS":      strconv.Itoa(MaxAttempts),
	}
	return env
}

// MaxAttempts is the SDK retry budget against the emulators, above
// awsconfig's 4. It was raised for moto 5.2.1's 500s under concurrent
// transactions ("dictionary changed size during iteration"), which
// tools/moto/serve.py now prevents by isolating DynamoDB requests; it stays
// for the emulators' other transient errors on a loaded machine.
const MaxAttempts = 10

// Stop ends the processes and removes local-kms's data. It is safe to call
// more than once.
func (s *Stack) Stop() {
	for _, p := range s.procs {
		if p.Process != nil {
			_ = p.Process.Kill()
		}
	}
	s.procs = nil
	if s.kmsDir != "" {
		_ = os.RemoveAll(s.kmsDir)
		s.kmsDir = ""
	}
}

func freePort(fixed int) (int, error) {
	if fixed != 0 {
		return fixed, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls url until it answers any HTTP status and the process
// cmd started listens on port itself (listens), for up to 30 s. A process
// that exits meanwhile (it could not bind the port) is an error.
func waitReady(ctx context.Context, url, method string, cmd *exec.Cmd, port int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader("{}"))
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if listens(cmd.Process.Pid, port) {
				return nil
			}
			err = fmt.Errorf("port %d answers, but not from process %d: %w", port, cmd.Process.Pid, errPortTaken)
		}
		if exited(cmd) {
			return fmt.Errorf("%s exited: %w", filepath.Base(cmd.Path), err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", url, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// RepoRoot walks up from the working directory to the directory holding
// go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repo root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repo root: no go.mod above the working directory")
		}
		dir = parent
	}
}
