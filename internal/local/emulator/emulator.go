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
	"strconv"
	"strings"
	"time"
)

// Account and credentials the emulators accept. They are not secrets.
const (
	Region    = "us-east-1"
	Account   = "123456789012"
	AccessKey = "testing"
	SecretKey = "testing"
)

// ErrNotInstalled means the emulator binaries are missing: run `make tools`.
var ErrNotInstalled = errors.New("emulator not installed (run `make tools`)")

// Stack is a running local AWS stack.
type Stack struct {
	// Endpoint is moto server's URL, for every service but KMS.
	Endpoint string
	// KMSEndpoint is local-kms's URL.
	KMSEndpoint string
	// DynamoDBEndpoint is DynamoDB Local's URL when Options.DynamoDBLocal
	// asked for it; empty when DynamoDB is moto's.
	DynamoDBEndpoint string

	procs  []*exec.Cmd
	kmsDir string
}

// Options configure Start.
type Options struct {
	// Root is the repository root; default: found by walking up to go.mod.
	Root string
	// LogDir receives moto.log and local-kms.log; default: <Root>/.local/log.
	LogDir string
	// MotoPort and KMSPort fix the ports; 0 picks free loopback ports.
	MotoPort, KMSPort int
	// DynamoDBLocal, when set, is the directory holding DynamoDB Local's jars
	// and sqlite4java native libraries (`make dynamodb-local` puts them in
	// .local/dynamodb-local/lib): DynamoDB then goes to DynamoDB Local,
	// in memory, instead of moto. It needs Java 17 or later. moto's
	// CloudFormation still creates its tables in moto, so a stack with this
	// option serves pooled tenants only.
	DynamoDBLocal string
}

// Binaries returns the paths of moto_server and local-kms under root.
func Binaries(root string) (moto, kms string) {
	return filepath.Join(root, ".venv", "bin", "moto_server"), filepath.Join(root, ".local", "bin", "local-kms")
}

// Start launches moto server and local-kms and waits until both answer.
func Start(ctx context.Context, o Options) (*Stack, error) {
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
	motoBin, kmsBin := Binaries(o.Root)
	for _, b := range []string{motoBin, kmsBin} {
		if _, err := os.Stat(b); err != nil {
			return nil, fmt.Errorf("%w: %s missing", ErrNotInstalled, b)
		}
	}
	if err := os.MkdirAll(o.LogDir, 0o755); err != nil {
		return nil, fmt.Errorf("start emulator: %w", err)
	}
	s := &Stack{}
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
	moto := exec.Command(motoBin, "-H", "127.0.0.1", "-p", strconv.Itoa(motoPort))
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

	if o.DynamoDBLocal != "" {
		if err := s.startDynamoDBLocal(o.DynamoDBLocal, o.LogDir); err != nil {
			return nil, err
		}
		if err := waitReady(ctx, s.DynamoDBEndpoint+"/", "POST"); err != nil {
			return nil, fmt.Errorf("DynamoDB Local did not answer (see %s): %w", filepath.Join(o.LogDir, "dynamodb-local.log"), err)
		}
	}
	if err := waitReady(ctx, s.Endpoint+"/moto-api/", "GET"); err != nil {
		return nil, fmt.Errorf("moto server did not answer (see %s): %w", filepath.Join(o.LogDir, "moto.log"), err)
	}
	if err := waitReady(ctx, s.KMSEndpoint+"/", "POST"); err != nil {
		return nil, fmt.Errorf("local-kms did not answer (see %s): %w", filepath.Join(o.LogDir, "local-kms.log"), err)
	}
	ok = true
	return s, nil
}

// startDynamoDBLocal launches DynamoDB Local from the jars in lib, in memory,
// one database for every access key and Region (-sharedDb).
func (s *Stack) startDynamoDBLocal(lib, logDir string) error {
	lib, err := filepath.Abs(lib) // it runs in logDir
	if err != nil {
		return fmt.Errorf("start DynamoDB Local: %w", err)
	}
	if _, err := os.Stat(filepath.Join(lib, "DynamoDBLocal-"+DynamoDBLocalVersion+".jar")); err != nil {
		return fmt.Errorf("%w: DynamoDB Local %s missing in %s (run `make dynamodb-local`)", ErrNotInstalled, DynamoDBLocalVersion, lib)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return fmt.Errorf("DynamoDB Local needs Java 17 or later: %w", err)
	}
	port, err := freePort(0)
	if err != nil {
		return err
	}
	cmd := exec.Command(java, "-Djava.library.path="+lib, "-cp", filepath.Join(lib, "*"),
		"software.amazon.dynamodb.services.local.main.ServerRunner", "-inMemory", "-sharedDb", "-port", strconv.Itoa(port))
	cmd.Dir = logDir // it writes dynamodb-local-metadata.json into its working directory
	if err := s.launch(cmd, filepath.Join(logDir, "dynamodb-local.log")); err != nil {
		return err
	}
	s.DynamoDBEndpoint = "http://127.0.0.1:" + strconv.Itoa(port)
	return nil
}

// DynamoDBLocalVersion is the DynamoDB Local release that
// tools/dynamodb-local/pom.xml pins.
const DynamoDBLocalVersion = "3.1.0"

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
	if s.DynamoDBEndpoint != "" {
		env["AWS_ENDPOINT_URL_DYNAMODB"] = s.DynamoDBEndpoint
	}
	return env
}

// MaxAttempts is the SDK retry budget against the emulators. moto 5.2.1's
// TransactWriteItems deep-copies the table for its rollback while other
// threads write to it, and then answers 500 ("dictionary changed size during
// iteration"); under many concurrent writes four attempts are not always
// enough. The SDK retries a 500 with jittered backoff, as it would in AWS.
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

// waitReady polls url until it answers any HTTP status, for up to 30 s.
func waitReady(ctx context.Context, url, method string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader("{}"))
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
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
