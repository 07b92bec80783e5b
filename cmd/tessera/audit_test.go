package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/local/gateway"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/apievent"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
	"github.com/tessera-saas/tessera/internal/wire"
)

// operatorAPI serves the operator API (the tenants function behind the
// local gateway, which verifies the token) on the emulator of e, until the
// test ends.
func operatorAPI(t *testing.T, e *testenv.Env) *httptest.Server {
	t.Helper()
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	v, err := wire.NewVerifier(e.Config, e.Settings)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gateway.New(v, map[route.Function]gateway.Handler{
		route.FunctionTenants: wire.NewTenants(e.Config, e.Settings, quiet).Handle}, quiet))
	t.Cleanup(srv.Close)
	return srv
}

// TestAuditCommandPrintsTheTrail: `tessera audit ID` reads the trail
// through the operator API behind the local gateway, every page of it,
// and prints the operator's actions, each once, as a table or as JSON.
func TestAuditCommandPrintsTheTrail(t *testing.T) {
	e := testenv.Setup(t)
	ctx := context.Background()
	srv := operatorAPI(t, e)

	acme := fixture.NewTenant(t, e, "cli-audit").Record
	ev := apievent.Operator(t, "GET", "/v1/tenants", nil, "", "operators")
	token := tenant.AuthorizationHeader(ev.Headers, ev.MultiValueHeaders)
	sub, _ := ev.RequestContext.Authorizer["claims"].(map[string]any)["sub"].(string)
	c := client{base: srv.URL, token: token}
	// More entries than a page of the command (100) holds: tier changes
	// back and forth, then a suspension.
	const changes = 101
	for i := range changes {
		tier := map[bool]string{true: "standard", false: "basic"}[i%2 == 0]
		if _, err := c.do(ctx, "PUT", "/v1/tenants/"+acme.TenantID+"/tier", map[string]string{"tier": tier}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.do(ctx, "POST", "/v1/tenants/"+acme.TenantID+"/suspend", map[string]string{"reason": "cli test"}, nil); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := runAudit(ctx, []string{acme.TenantID, "--api", srv.URL, "--token", token, "--format", "json"}, &out); err != nil {
		t.Fatal(err)
	}
	var entries []map[string]any
	if err := json.Unmarshal(out.Bytes(), &entries); err != nil {
		t.Fatalf("json output: %v\n%s", err, out.String())
	}
	if len(entries) != changes+1 {
		t.Fatalf("%d entries, want %d", len(entries), changes+1)
	}
	ids := map[string]bool{}
	for i, e := range entries {
		action := "ChangeTenantTier"
		if i == changes {
			action = "SuspendTenant"
		}
		if e["action"] != action || e["actor"] != sub || e["actorKind"] != "operator" || ids[e["requestId"].(string)] {
			t.Fatalf("entry %d = %v, want %s by %s, once", i, e, action, sub)
		}
		ids[e["requestId"].(string)] = true
	}

	out.Reset()
	if err := runAudit(ctx, []string{acme.TenantID, "--api", srv.URL, "--token", token, "--from", entries[changes]["at"].(string)}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "AT") || !strings.Contains(lines[1], "SuspendTenant") ||
		!strings.Contains(lines[1], sub) || !strings.Contains(lines[1], "tenants/"+acme.TenantID+"/suspend") || !strings.Contains(lines[1], "suspend: cli test") {
		t.Fatalf("table from the suspension on:\n%s", out.String())
	}

	for _, bad := range [][]string{{}, {acme.TenantID, "--format", "csv"}, {acme.TenantID, "--from", "yesterday"}} {
		if err := runAudit(ctx, append(bad, "--api", srv.URL, "--token", token), io.Discard); err == nil {
			t.Errorf("audit %v: no error", bad)
		}
	}
}
