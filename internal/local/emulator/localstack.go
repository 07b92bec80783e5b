package emulator

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// Engines: the local stacks Start can run.
const (
	// Moto is moto server for every service but KMS, and local-kms (the
	// default).
	Moto = "moto"
	// LocalStack is LocalStack's own runtime, without Docker, for every
	// service, KMS included; DynamoDB and Cognito user pools inside it are
	// moto's backends (tools/localstack/plugin).
	LocalStack = "localstack"
)

// EngineEnv names the environment variable that picks the engine when
// Options.Engine is empty: moto (the default) or localstack. `make test`
// sets it for each of its two runs.
const EngineEnv = "TESSERA_EMULATOR"

// EngineFromEnv returns the engine EngineEnv names, moto when it is unset.
func EngineFromEnv() (string, error) {
	return engine(os.Getenv(EngineEnv))
}

func engine(name string) (string, error) {
	switch name {
	case "", Moto:
		return Moto, nil
	case LocalStack:
		return LocalStack, nil
	}
	return "", fmt.Errorf("%s=%q: want %s or %s", EngineEnv, name, Moto, LocalStack)
}

// LocalStackPython returns the interpreter of the project's LocalStack
// virtual environment under root, and the file `make tools` touches once
// LocalStack and the plugin are installed in it.
func LocalStackPython(root string) (python, installed string) {
	venv := filepath.Join(root, ".venv-localstack")
	return filepath.Join(venv, "bin", "python"), filepath.Join(venv, ".plugin-installed")
}

// localStackStatic is the directory where `make tools` builds LocalStack's
// service catalog index once; every instance reads it as its static library
// directory instead of spending seconds building its own.
func localStackStatic(root string) string {
	return filepath.Join(root, ".venv-localstack", "static")
}

// startLocalStack runs LocalStack's runtime on a free loopback port, with
// its state in a fresh temporary directory, and waits until its health
// endpoint answers. The settings are the ones that make it work on a host
// without Docker and without an auth token (see tools/localstack/README.md).
func startLocalStack(ctx context.Context, o Options) (*Stack, error) {
	python, installed := LocalStackPython(o.Root)
	static := localStackStatic(o.Root)
	for _, f := range []string{python, installed, static} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("%w: %s missing", ErrNotInstalled, f)
		}
	}
	if err := os.MkdirAll(o.LogDir, 0o755); err != nil {
		return nil, fmt.Errorf("start LocalStack: %w", err)
	}
	s := &Stack{Engine: LocalStack}
	ok := false
	defer func() {
		if !ok {
			s.Stop()
		}
	}()
	port, err := freePort(o.MotoPort)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tessera-localstack-")
	if err != nil {
		return nil, fmt.Errorf("start LocalStack: %w", err)
	}
	s.kmsDir = dir // Stop removes it
	if err := os.MkdirAll(filepath.Join(dir, "fs", "usr", "lib"), 0o755); err != nil {
		return nil, fmt.Errorf("start LocalStack: %w", err)
	}
	if err := os.Symlink(static, filepath.Join(dir, "fs", "usr", "lib", "localstack")); err != nil {
		return nil, fmt.Errorf("start LocalStack: %w", err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	// tessera_localstack runs localstack.runtime.main (see its __main__.py).
	cmd := exec.Command(python, "-m", "tessera_localstack")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), localStackEnv(addr, dir)...)
	logPath := filepath.Join(o.LogDir, "localstack.log")
	if err := s.launch(cmd, logPath); err != nil {
		return nil, err
	}
	s.Endpoint = "http://" + addr
	s.KMSEndpoint = s.Endpoint
	if err := waitHealthy(ctx, s.Endpoint+"/_localstack/health", cmd, port); err != nil {
		return nil, fmt.Errorf("LocalStack did not answer (see %s): %w", logPath, err)
	}
	ok = true
	return s, nil
}

// localStackEnv is LocalStack's configuration for one instance listening on
// addr with its files under dir.
func localStackEnv(addr, dir string) []string {
	return []string{
		// This machine may have a /.dockerenv; LocalStack runs on the host.
		"OVERRIDE_IN_DOCKER=0",
		"FILESYSTEM_ROOT=" + filepath.Join(dir, "fs"),
		// plux caches its plugin index here by file mtimes; a shared, stale
		// one hides plugins, so every instance gets its own.
		"XDG_CACHE_HOME=" + filepath.Join(dir, "cache"),
		// The default server, twisted, takes about half the CPU per request
		// of hypercorn; the launcher makes it bind this address only (it
		// binds 0.0.0.0 otherwise).
		"GATEWAY_LISTEN=" + addr,
		"GATEWAY_SERVER=twisted",
		"LOCALSTACK_HOST=" + addr,
		"SQS_ENDPOINT_STRATEGY=path",
		"DISABLE_EVENTS=1",
		"SKIP_SSL_CERT_DOWNLOAD=1",
		"DNS_ADDRESS=0",
		// DynamoDB and Cognito user pools are moto's backends inside
		// LocalStack: its own DynamoDB needs DynamoDB Local, not used here,
		// and Cognito is a paid feature. DynamoDB Streams follows DynamoDB:
		// LocalStack's own streams never see moto's tables.
		"PROVIDER_OVERRIDE_DYNAMODB=moto",
		"PROVIDER_OVERRIDE_DYNAMODBSTREAMS=moto",
		"PROVIDER_OVERRIDE_COGNITO_IDP=moto",
		"AWS_DEFAULT_REGION=" + Region,
		"PERSISTENCE=0",
	}
}

// waitHealthy polls LocalStack's health endpoint until it answers 200, for
// up to 60 s.
func waitHealthy(ctx context.Context, url string, cmd *exec.Cmd, port int) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			switch {
			case resp.StatusCode != http.StatusOK:
				err = fmt.Errorf("status %d", resp.StatusCode)
			case !listens(cmd.Process.Pid, port):
				err = fmt.Errorf("port %d answers, but not from process %d: %w", port, cmd.Process.Pid, errPortTaken)
			default:
				return nil
			}
		}
		if exited(cmd) {
			return fmt.Errorf("LocalStack exited: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", url, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
