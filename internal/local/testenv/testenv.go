package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tessera-saas/tessera/internal/local/bootstrap"
	"github.com/tessera-saas/tessera/internal/local/emulator"
	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
	"github.com/tessera-saas/tessera/internal/platform/settings"
)

// Env is a ready local AWS stack.
type Env struct {
	Config   aws.Config
	Settings settings.Settings
}

var (
	once    sync.Once
	started *emulator.Stack
	env     *Env
	envErr  error
)

// Main runs the tests of a package and stops the emulators it started. Use it
// from TestMain: func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	if started != nil {
		started.Stop()
	}
	stopStripe()
	return code
}

// Setup returns the shared stack, starting it on first use.
func Setup(t testing.TB) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped in -short mode")
	}
	once.Do(func() { env, envErr = setup() })
	if envErr != nil {
		if errors.Is(envErr, emulator.ErrNotInstalled) && os.Getenv("CI") != "true" {
			t.Skipf("SKIPPING integration test: %v", envErr)
		}
		t.Fatalf("local AWS stack: %v", envErr)
	}
	return env
}

// Engine returns the emulator the tests run on: emulator.Moto or
// emulator.LocalStack, as TESSERA_EMULATOR names it (moto when unset; a
// stack reused through AWS_ENDPOINT_URL is named the same way). A test that
// depends on a difference between the two engines asks it; the README's
// "moto vs LocalStack" table lists every such test.
func Engine(t testing.TB) string {
	t.Helper()
	eng, err := emulator.EngineFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func setup() (*Env, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	eng, err := emulator.EngineFromEnv()
	if err != nil {
		return nil, err
	}
	if os.Getenv("AWS_ENDPOINT_URL") == "" {
		s, err := emulator.Start(ctx, emulator.Options{Engine: eng})
		if err != nil {
			return nil, err
		}
		started = s
		for k, v := range s.Env() {
			os.Setenv(k, v)
		}
	}
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return nil, err
	}
	st, err := settings.FromEnv()
	if err != nil {
		return nil, err
	}
	st, err = bootstrap.Run(ctx, cfg, st)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	return &Env{Config: cfg, Settings: st}, nil
}
