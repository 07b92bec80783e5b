package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/tessera-saas/tessera/internal/local/bootstrap"
	"github.com/tessera-saas/tessera/internal/local/emulator"
	"github.com/tessera-saas/tessera/internal/local/seed"
	"github.com/tessera-saas/tessera/internal/platform/cell"
	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/idtoken"
)

// Demo credentials of the local stack only.
const (
	DemoPassword  = "Tessera-Demo-2026"
	OperatorEmail = "operator@tessera.test"
)

type demoTenant struct{ Name, Tier, AdminEmail string }

var demoTenants = []demoTenant{
	{Name: "Acme", Tier: "basic", AdminEmail: "admin@acme.test"},
	{Name: "Globex", Tier: "premium", AdminEmail: "admin@globex.test"},
}

func runUp(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	addr := fs.String("addr", defaultAddr, "listen address of the API")
	envFile := fs.String("env-file", ".local/env", "where to write the stack's environment")
	cells := fs.Int("cells", 1, "cells to run, 1 to 9: with more, a cell router on -addr places the demo tenants in them (each cell serves its own API)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cells < 1 || *cells > 9 {
		return fmt.Errorf("up: -cells %d: run 1 to 9 cells", *cells)
	}
	env, stop, err := startEmulatorUnlessSet(ctx)
	if err != nil {
		return err
	}
	defer stop()
	cfg, s, err := loadConfig(ctx)
	if err != nil {
		return err
	}
	if s, err = bootstrap.Run(ctx, cfg, s); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	for k, v := range s.Env() {
		env[k] = v
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go runBackground(ctx, cfg, s, log)

	served := make(chan error, *cells+1)
	start := func(addr string, run func(addr string, ready func(net.Addr)) error) (string, error) {
		ready := make(chan net.Addr, 1)
		go func() { served <- run(addr, func(a net.Addr) { ready <- a }) }()
		select {
		case a := <-ready:
			return "http://" + a.String(), nil
		case err := <-served:
			return "", err
		}
	}
	cellAddr := *addr
	if *cells > 1 {
		cellAddr = "127.0.0.1:0" // the router takes -addr; cells listen where they can
	}
	api, err := start(cellAddr, func(a string, ready func(net.Addr)) error { return serve(ctx, cfg, s, a, ready) })
	if err != nil {
		return err
	}
	if *cells > 1 {
		// The other cells: resources of their own (bootstrap.ForCell), the
		// stage's one user pool, workers and an API each; then the router.
		m := []cell.Cell{{ID: cell.Default, API: api, Open: true}}
		env["TESSERA_API_C1"] = api
		for i := 2; i <= *cells; i++ {
			id := cell.ID(fmt.Sprintf("c%d", i))
			si, err := bootstrap.Run(ctx, cfg, bootstrap.ForCell(s, id))
			if err != nil {
				return fmt.Errorf("bootstrap cell %s: %w", id, err)
			}
			go runBackground(ctx, cfg, si, log)
			u, err := start("127.0.0.1:0", func(a string, ready func(net.Addr)) error { return serve(ctx, cfg, si, a, ready) })
			if err != nil {
				return err
			}
			m = append(m, cell.Cell{ID: id, API: u, Open: true})
			env["TESSERA_API_"+strings.ToUpper(string(id))] = u
		}
		cellsJSON, _ := json.Marshal(m)
		rs := s
		rs.Cells = string(cellsJSON)
		if err := bootstrap.EnsureDirectory(ctx, cfg, rs.DirectoryTable); err != nil {
			return err
		}
		if api, err = start(*addr, func(a string, ready func(net.Addr)) error { return serveRouter(ctx, cfg, rs, a, ready) }); err != nil {
			return err
		}
	}
	env["TESSERA_API"] = api
	if err := writeEnvFile(*envFile, env); err != nil {
		return err
	}

	// The demo tenants go through the real onboarding flow: an operator
	// creates them through the API, the bus and queue deliver the event,
	// the provisioner makes keys, placement (a CloudFormation stack for
	// Globex) and admin users.
	idp := cip.NewFromConfig(cfg)
	if err := seed.EnsureOperator(ctx, idp, s.UserPoolID, OperatorEmail, DemoPassword); err != nil {
		return err
	}
	token, err := idtoken.Login(ctx, idp, s.AppClientID, OperatorEmail, DemoPassword)
	if err != nil {
		return err
	}
	c := client{base: api, token: token}
	dir := directory.New(idp, s.UserPoolID)
	var lines []string
	tenantAPI := "$TESSERA_API" // where Acme's users call: with cells, Acme's cell's API
	for _, d := range demoTenants {
		created, err := c.do(ctx, "POST", "/v1/tenants", map[string]string{"name": d.Name, "tier": d.Tier, "adminEmail": d.AdminEmail},
			map[string]string{"Idempotency-Key": "demo-" + strings.ToLower(d.Name)})
		if err != nil {
			return fmt.Errorf("onboard %s: %w", d.Name, err)
		}
		id := created.(map[string]any)["tenantId"].(string)
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		rec, err := c.waitFor(wctx, id, "ACTIVE", "FAILED")
		cancel()
		if err != nil {
			return fmt.Errorf("onboard %s: %w", d.Name, err)
		}
		m := rec.(map[string]any)
		if m["status"] != "ACTIVE" {
			return fmt.Errorf("onboard %s: %v", d.Name, m["reason"])
		}
		// Onboarding invites the admin with a temporary password; locally no
		// email goes out, so give the demo admin a known password.
		if err := dir.SetPassword(ctx, d.AdminEmail, DemoPassword); err != nil {
			return err
		}
		table, _ := m["placement"].(map[string]any)["table"].(string)
		line := fmt.Sprintf("  %-7s %-8s tenant %s  admin %-18s table %s", d.Name, d.Tier, id, d.AdminEmail, table)
		if *cells > 1 {
			c, _ := m["placement"].(map[string]any)["cell"].(string)
			line += fmt.Sprintf("  cell %s ($TESSERA_API_%s)", c, strings.ToUpper(c))
			if d.Name == "Acme" {
				tenantAPI = "$TESSERA_API_" + strings.ToUpper(c)
			}
		}
		lines = append(lines, line)
	}
	if *cells > 1 {
		fmt.Printf("\n%d cells behind the cell router on %s; each tenant's users call its cell's API (GET $TESSERA_API/v1/placement names it).\n", *cells, api)
	}
	printWelcome(api, *envFile, lines, tenantAPI)
	select {
	case err := <-served:
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	case <-ctx.Done():
		return <-served
	}
}

// startEmulatorUnlessSet starts the local emulators unless AWS_ENDPOINT_URL
// already names a stack (LocalStack, or real AWS), and exports their
// environment into this process.
func startEmulatorUnlessSet(ctx context.Context) (map[string]string, func(), error) {
	env := map[string]string{}
	if os.Getenv("AWS_ENDPOINT_URL") != "" {
		for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
			if v := os.Getenv(k); v != "" {
				env[k] = v
			}
		}
		return env, func() {}, nil
	}
	st, err := emulator.Start(ctx, emulator.Options{})
	if err != nil {
		return nil, nil, err
	}
	for k, v := range st.Env() {
		os.Setenv(k, v)
		env[k] = v
	}
	fmt.Fprintf(os.Stderr, "emulators (%s): %s, KMS %s (logs in .local/log)\n", st.Engine, st.Endpoint, st.KMSEndpoint)
	return env, st.Stop, nil
}

func writeEnvFile(path string, env map[string]string) error {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# written by tessera; source it to talk to the running local stack\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "export %s=%q\n", k, env[k])
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func printWelcome(api, envFile string, tenants []string, tenantAPI string) {
	listFlag := "" // through the cell router a list names its cell
	if tenantAPI != "$TESSERA_API" {
		listFlag = " --cell c1   # or GET $TESSERA_API/v1/cells"
	}
	fmt.Printf("\nTessera is serving on %s. Demo tenants, onboarded through the provisioner:\n%s\n", api, strings.Join(tenants, "\n"))
	fmt.Printf(`
In another terminal (password of every demo user: %[3]s):
  source %[2]s
  TOKEN=$(TESSERA_PASSWORD=%[3]s go run ./cmd/tessera login --email admin@acme.test)
  curl -s -X POST %[5]s/v1/products -H "Authorization: $TOKEN" -H 'Content-Type: application/json' \
       -d '{"name":"Anvil","sku":"ANV-1","price":{"amount":1999,"currency":"EUR"}}'
  curl -s %[5]s/v1/products -H "Authorization: $TOKEN"
  curl -s %[5]s/v1/orders   -H "Authorization: $TOKEN"
  curl -s %[5]s/v1/features -H "Authorization: $TOKEN"             # the flags and entitlements of Acme (basic)
  curl -s -X POST %[5]s/v1/exports -H "Authorization: $TOKEN"      # basic: 403 not_entitled, unless an operator runs
                                                                  #   tessera flags override <tenant id> exports true

Operator (tenant management):
  export TESSERA_TOKEN=$(TESSERA_PASSWORD=%[3]s go run ./cmd/tessera login --email %[4]s)
  go run ./cmd/tessera tenants create --name Initech --tier premium --admin-email a@initech.test --wait
  go run ./cmd/tessera tenants list%[6]s
  go run ./cmd/tessera tenants tier <tenant id> premium --wait     # moves its data to a table of its own, online

Backups: each tenant's on its tier's schedule (checked every minute) or on demand; the provisioner runs backups,
restores and tier migrations (a migrated tenant's old copy is deleted after TESSERA_MIGRATION_GRACE).

Ctrl-C stops the API, the provisioner, the export workers, the backup schedule and the emulators.
`, api, envFile, DemoPassword, OperatorEmail, tenantAPI, listFlag)
}
