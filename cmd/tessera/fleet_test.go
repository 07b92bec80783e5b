package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tessera-saas/tessera/internal/control/fleet"
	"github.com/tessera-saas/tessera/internal/local/seed"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestFleetCommandsShowTheWavesAndTheProgress runs plan, apply, status and
// rollback as the CLI does, on two tenants of the local stack.
func TestFleetCommandsShowTheWavesAndTheProgress(t *testing.T) {
	e := testenv.Setup(t)
	ctx := context.Background()
	cat := store.NewCatalog(store.NewClient(e.Config), e.Settings.CatalogTable)
	creds := access.NewCredentials(sts.NewFromConfig(e.Config), e.Settings.DataAccessRoleARN)
	data := store.New(store.NewClient(e.Config), crypto.NewEnvelope(kms.NewFromConfig(e.Config)), store.WithCredentials(creds))
	ids := map[string]bool{}
	for _, name := range []string{"cli-a", "cli-b"} {
		rec := fixture.NewTenant(t, e, name).Record
		sc, err := catalog.ScopeOf(tenant.Tenant{ID: rec.TenantID, UserID: "u", Role: tenant.RoleAdmin}, rec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := seed.LegacyProducts(ctx, data.For(sc), rec.TenantID, []string{"Cli-1", "Cli-2", "Cli-3"}); err != nil {
			t.Fatal(err)
		}
		ids[rec.TenantID] = true
	}
	r, err := fleet.New(fleet.Deps{Catalog: cat, Data: data, Template: "2", Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Only: func(rec catalog.Record) bool { return ids[rec.TenantID] }})
	if err != nil {
		t.Fatal(err)
	}
	run := func(cmd string, pos ...string) (string, string, error) {
		var out, progress bytes.Buffer
		err := fleetCommand(ctx, r, cmd, pos, fleetFlags{wave: -1, concurrency: 2, actor: "alice", format: "text"}, &out, &progress)
		return out.String(), progress.String(), err
	}
	out, _, err := run("plan", "migration/0001")
	if err != nil || !strings.Contains(out, "2 waves, 2 tenants: 0 current, 2 pending") || strings.Count(out, "pending") != 3 {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	out, progress, err := run("apply", "0001")
	if err != nil || strings.Count(progress, "applied") != 2 || !strings.Contains(progress, "3 changed") ||
		!strings.Contains(out, "wave 0: 1 tenants: 1 done") || !strings.Contains(out, "wave 1: 1 tenants: 1 done") {
		t.Fatalf("apply: %v\n%s\n%s", err, progress, out)
	}
	out, _, err = run("status", "product-sku-key")
	if err != nil || strings.Count(out, "current") != 3 || strings.Count(out, "alice") != 2 || !strings.Contains(out, "3/3") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	out, progress, err = run("rollback", "0001")
	if err != nil || strings.Count(progress, "rolled-back") != 2 || !strings.Contains(out, "rollback migration/0001-product-sku-key") {
		t.Fatalf("rollback: %v\n%s\n%s", err, progress, out)
	}
	if _, _, err := run("apply"); err == nil || !strings.Contains(err.Error(), "want one TARGET") {
		t.Fatalf("apply without a target: %v", err)
	}
	if _, _, err := run("plan", "migration/0042"); !errors.Is(err, fleet.ErrBadTarget) {
		t.Fatalf("plan of an unknown migration: %v", err)
	}
	if _, _, err := run("rollback", "stack"); !errors.Is(err, fleet.ErrBadTarget) {
		t.Fatalf("rollback of a stack version: %v", err)
	}
}
