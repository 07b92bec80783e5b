package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/apievent"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/features"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// TestFlagsCommands runs `tessera flags list|set|override` against the
// operator API (the tenants function behind the local gateway, on the
// emulator) with an operator's token.
func TestFlagsCommands(t *testing.T) {
	e := testenv.Setup(t)
	ctx := context.Background()
	srv := operatorAPI(t, e)
	token := apievent.Operator(t, "GET", "/v1/flags", nil, "", "operators").Headers["Authorization"]
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := flagsCommand(ctx, append(args, "--api", srv.URL, "--token", token), &out)
		return out.String(), err
	}
	acme := fixture.NewTenant(t, e, "acme").Record

	out, err := run("list")
	if err != nil || !strings.Contains(out, features.MaxProducts) || !strings.Contains(out, "basic=1000") ||
		!strings.Contains(out, "premium=10000000") {
		t.Fatalf("list = %q, %v", out, err)
	}
	name := "cli-" + acme.TenantID[2:12]
	if out, err = run("set", name, "--kind", "integer", "--default", "1", "--tier", "premium=5", "--rollout", "10=3", "--description", "a test"); err != nil {
		t.Fatalf("set: %v", err)
	}
	var def map[string]any
	if err := json.Unmarshal([]byte(out), &def); err != nil || def["version"] != float64(1) || def["tierDefaults"].(map[string]any)["premium"] != float64(5) ||
		def["rollout"].(map[string]any)["value"] != float64(3) {
		t.Fatalf("set printed %q (%v)", out, err)
	}
	// Without --version: the version in force.
	if out, err = run("set", name, "--kind", "integer", "--default", "2"); err != nil || !strings.Contains(out, `"version": 2`) {
		t.Fatalf("second set = %q, %v", out, err)
	}
	// A stale --version is refused.
	if _, err := run("set", name, "--kind", "integer", "--default", "3", "--version", "1"); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("stale set: %v", err)
	}
	if _, err := run("set", name, "--kind", "integer", "--default", "many"); err == nil {
		t.Fatal("a non-integer default was sent")
	}
	if out, err = run("list", "--json"); err != nil || !strings.Contains(out, name) {
		t.Fatalf("list --json = %q, %v", out, err)
	}

	if out, err = run("override", acme.TenantID, features.MaxProducts, "9"); err != nil || !strings.Contains(out, `"max-products": 9`) {
		t.Fatalf("override = %q, %v", out, err)
	}
	cat := store.NewCatalog(store.NewClient(e.Config), e.Settings.CatalogTable)
	if rec, err := cat.GetTenant(ctx, acme.TenantID); err != nil || rec.FlagOverrides[features.MaxProducts] != float64(9) {
		t.Fatalf("stored overrides = %+v, %v", rec.FlagOverrides, err)
	}
	if _, err := run("override", acme.TenantID, features.Exports, "maybe"); err == nil || !strings.Contains(err.Error(), "validation_failed") {
		t.Fatalf("override with a bad value: %v", err)
	}
	if _, err := run("override", acme.TenantID, "no-such-flag", "1"); err == nil || !strings.Contains(err.Error(), "unknown_flag") {
		t.Fatalf("override of an unknown flag: %v", err)
	}
	if _, err = run("override", acme.TenantID, features.MaxProducts, "--clear"); err != nil {
		t.Fatalf("clear: %v", err)
	}
	if rec, err := cat.GetTenant(ctx, acme.TenantID); err != nil || len(rec.FlagOverrides) != 0 {
		t.Fatalf("overrides after clear = %+v, %v", rec.FlagOverrides, err)
	}
}
