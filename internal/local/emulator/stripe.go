package emulator

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// StripeMockBinary is where `make tools` builds stripe-mock (Stripe's own
// stateless mock of its API, driven by its OpenAPI document).
func StripeMockBinary(root string) string { return filepath.Join(root, ".local", "bin", "stripe-mock") }

// StripeMock is a running stripe-mock.
type StripeMock struct {
	// URL is its HTTP base URL, the API base of a Stripe client
	// (TESSERA_STRIPE_API_BASE).
	URL   string
	stack Stack
}

// StartStripeMock starts stripe-mock on a free port (HTTP only) and waits
// until it answers; ErrNotInstalled when the binary is missing. Its log goes
// to logDir/stripe-mock.log (default: <root>/.local/log).
func StartStripeMock(ctx context.Context, root, logDir string) (*StripeMock, error) {
	if root == "" {
		r, err := RepoRoot()
		if err != nil {
			return nil, err
		}
		root = r
	}
	if logDir == "" {
		logDir = filepath.Join(root, ".local", "log")
	}
	bin := StripeMockBinary(root)
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%w: %s missing", ErrNotInstalled, bin)
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("start stripe-mock: %w", err)
	}
	for attempt := 1; ; attempt++ {
		m, err := startStripeMock(ctx, bin, logDir)
		if err == nil || attempt == 3 {
			return m, err
		}
	}
}

func startStripeMock(ctx context.Context, bin, logDir string) (*StripeMock, error) {
	port, err := freePort(0)
	if err != nil {
		return nil, err
	}
	m := &StripeMock{URL: "http://127.0.0.1:" + strconv.Itoa(port)}
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:"+strconv.Itoa(port))
	if err := m.stack.launch(cmd, filepath.Join(logDir, "stripe-mock.log")); err != nil {
		return nil, err
	}
	if err := waitReady(ctx, m.URL+"/v1/customers", "GET", cmd, port); err != nil {
		m.Stop()
		return nil, fmt.Errorf("stripe-mock did not answer (see %s): %w", filepath.Join(logDir, "stripe-mock.log"), err)
	}
	return m, nil
}

// Stop ends stripe-mock; safe to call more than once.
func (m *StripeMock) Stop() { m.stack.Stop() }
