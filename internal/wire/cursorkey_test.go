package wire_test

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/entityid"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/wire"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// countSecrets is the emulator's Secrets Manager, counting reads.
type countSecrets struct {
	*secretsmanager.Client
	reads atomic.Int32
}

func (c *countSecrets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, o ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.reads.Add(1)
	return c.Client.GetSecretValue(ctx, in, o...)
}

// TestCursorKeyFromSecret: with a cursor key secret (a deployed stage), the
// catalog's list cursors are authenticated with the secret's value, read
// from Secrets Manager (moto) once per process, on first use, and shared by
// every catalog of the process; a cursor made with the built-in key is
// refused.
func TestCursorKeyFromSecret(t *testing.T) {
	e := testenv.Setup(t)
	ctx := context.Background()
	fixture.NewTenant(t, e, "cursor-a")
	fixture.NewTenant(t, e, "cursor-b")
	sm := &countSecrets{Client: secretsmanager.NewFromConfig(e.Config)}
	sec, err := sm.Client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("tessera-test-cursor-key-" + entityid.New()), SecretString: aws.String("a-generated-stage-key-0123456789"),
	})
	if err != nil {
		t.Fatalf("create the secret: %v", err)
	}
	s := e.Settings
	s.Stage, s.CursorSecretARN = "dev", aws.ToString(sec.ARN)
	if err := s.CheckCursorKey(); err != nil {
		t.Fatal(err)
	}
	key := wire.CursorKey(sm, s)
	if n := sm.reads.Load(); n != 0 {
		t.Fatalf("the secret was read %d times before any list: want it read on first use", n)
	}
	ddb := store.NewClient(e.Config)
	first := store.NewCatalog(ddb, e.Settings.CatalogTable).WithCursorKeySource(key)
	second := store.NewCatalog(ddb, e.Settings.CatalogTable).WithCursorKeySource(key)
	builtin := store.NewCatalog(ddb, e.Settings.CatalogTable)

	page, err := first.ListTenants(ctx, store.PageRequest{Limit: 1})
	if err != nil || page.Next == "" {
		t.Fatalf("first page: next %q, %v", page.Next, err)
	}
	if _, err := second.ListTenants(ctx, store.PageRequest{Limit: 1, Cursor: page.Next}); err != nil {
		t.Fatalf("the cursor does not pass another catalog of the process: %v", err)
	}
	if _, err := builtin.ListTenants(ctx, store.PageRequest{Limit: 1, Cursor: page.Next}); !errors.Is(err, store.ErrInvalidCursor) {
		t.Fatalf("a cursor of the stage's key passes the built-in key: %v", err)
	}
	other, err := builtin.ListTenants(ctx, store.PageRequest{Limit: 1})
	if err != nil || other.Next == "" {
		t.Fatalf("built-in first page: %q, %v", other.Next, err)
	}
	if _, err := first.ListTenants(ctx, store.PageRequest{Limit: 1, Cursor: other.Next}); !errors.Is(err, store.ErrInvalidCursor) {
		t.Fatalf("a cursor of the built-in key passes the stage's key: %v", err)
	}
	if n := sm.reads.Load(); n != 1 {
		t.Errorf("the secret was read %d times, want once per process", n)
	}
}

// TestDeployedStageRefusesBuiltinCursorKey: a deployed stage's functions
// that list do not start without a cursor key of their own.
func TestDeployedStageRefusesBuiltinCursorKey(t *testing.T) {
	testenv.Setup(t)
	t.Setenv(settings.EnvStage, "dev")
	t.Setenv(settings.EnvCursorSecretARN, "")
	t.Setenv(settings.EnvCursorKey, "")
	for _, fn := range []string{"api", "tenants", "exports", "provisioner"} {
		if _, _, _, err := wire.Load(context.Background(), fn); !errors.Is(err, settings.ErrBuiltinCursorKey) {
			t.Errorf("Load(%s) in stage dev without a cursor key = %v, want ErrBuiltinCursorKey", fn, err)
		}
	}
}
