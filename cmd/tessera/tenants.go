package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

const tenantsUsage = `Usage: tessera tenants <command> [flags]

  create --name N --tier basic|standard|premium --admin-email E [--idempotency-key K] [--wait]
  list [--limit N] [--cursor C] [--cell C]   (through a cell router: --cell names the cell to list)
  get ID
  tier ID basic|standard|premium [--wait]      a change across the pooled/dedicated line migrates the data
  suspend ID [--reason R]
  resume ID
  offboard ID [--reason R] [--wait]
  backup ID [--wait]                          back up the tenant now
  backups ID [--json]                         its backups: snapshot, trigger, completed, items, bytes, checksum
  restore ID --to T [--into-new-tenant NAME] [--wait]
                                              restore it (in place, or into a new tenant) to T (RFC 3339)
  jobs ID                                     its backup and restore jobs
  job ID JOBID                                one job: state, phase, progress

--wait on backup, restore and tier polls the job (for tier, the migration the change starts),
shows phase, items and rate on standard error, prints the job (for tier, the tenant) as it
ended and exits non-zero unless it SUCCEEDED (FAILED, ROLLED_BACK).

Talks to $TESSERA_API (or --api) with an operator's ID token from $TESSERA_TOKEN (or --token):
  export TESSERA_TOKEN=$(tessera login --email operator@tessera.test)
`

func runTenants(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, tenantsUsage)
		return errors.New("tenants: a command is required")
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("tenants "+cmd, flag.ContinueOnError)
	api := fs.String("api", os.Getenv("TESSERA_API"), "API base URL")
	token := fs.String("token", os.Getenv("TESSERA_TOKEN"), "operator ID token")
	name := fs.String("name", "", "tenant name (create)")
	tier := fs.String("tier", "", "tier (create)")
	admin := fs.String("admin-email", "", "first admin's email (create)")
	idem := fs.String("idempotency-key", "", "makes a retried create return the same tenant (create)")
	wait := fs.Bool("wait", false, "wait until provisioning, offboarding, or the backup or restore job has finished")
	reason := fs.String("reason", "", "reason (suspend, offboard)")
	limit := fs.Int("limit", 20, "page size (list)")
	cursor := fs.String("cursor", "", "page cursor (list)")
	cellID := fs.String("cell", "", "the cell to list, through a cell router (list)")
	to := fs.String("to", "", "the RFC 3339 time to restore to (restore)")
	into := fs.String("into-new-tenant", "", "restore into a new tenant of this name instead of in place (restore)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table (backups)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	c, err := operatorClient("tenants", *api, *token)
	if err != nil {
		return err
	}
	need := func(n int) error {
		if len(pos) != n {
			return fmt.Errorf("tenants %s: expected %d argument(s), got %d", cmd, n, len(pos))
		}
		return nil
	}
	var out any
	switch cmd {
	case "create":
		if err := need(0); err != nil {
			return err
		}
		out, err = c.do(ctx, "POST", "/v1/tenants", map[string]string{"name": *name, "tier": *tier, "adminEmail": *admin}, map[string]string{"Idempotency-Key": *idem})
		if err == nil && *wait {
			out, err = c.waitFor(ctx, out.(map[string]any)["tenantId"].(string), "ACTIVE", "FAILED")
		}
	case "backup", "backups", "restore", "jobs", "job":
		return runRecovery(ctx, c, cmd, pos, recoveryFlags{wait: *wait, to: *to, into: *into, asJSON: *asJSON})
	case "list":
		q := url.Values{"limit": {fmt.Sprint(*limit)}}
		if *cursor != "" {
			q.Set("cursor", *cursor)
		}
		if *cellID != "" {
			q.Set("cell", *cellID)
		}
		out, err = c.do(ctx, "GET", "/v1/tenants?"+q.Encode(), nil, nil)
	case "get":
		if err := need(1); err != nil {
			return err
		}
		out, err = c.do(ctx, "GET", "/v1/tenants/"+url.PathEscape(pos[0]), nil, nil)
	case "tier":
		if err := need(2); err != nil {
			return err
		}
		began := time.Now()
		out, err = c.do(ctx, "PUT", "/v1/tenants/"+url.PathEscape(pos[0])+"/tier", map[string]string{"tier": pos[1]}, nil)
		if err == nil && *wait {
			return c.waitTier(ctx, pos[0], out, began, os.Stdout, os.Stderr, isTerminal(os.Stderr))
		}
	case "suspend", "resume", "offboard":
		if err := need(1); err != nil {
			return err
		}
		var body any
		if *reason != "" {
			body = map[string]string{"reason": *reason}
		}
		out, err = c.do(ctx, "POST", "/v1/tenants/"+url.PathEscape(pos[0])+"/"+cmd, body, nil)
		if err == nil && cmd == "offboard" && *wait {
			out, err = c.waitFor(ctx, pos[0], "OFFBOARDED")
		}
	default:
		fmt.Fprint(os.Stderr, tenantsUsage)
		return fmt.Errorf("tenants: unknown command %q", cmd)
	}
	if err != nil {
		return err
	}
	return printJSON(os.Stdout, out)
}

// parseInterleaved parses fs's flags wherever they stand among the
// positional arguments ("tenants get ID --json" as "tenants get --json
// ID"), and returns the positional ones in order.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) > 0 {
			pos, args = append(pos, args[0]), args[1:]
		}
	}
	return pos, nil
}

// operatorClient is the operator API's client of command cmd, from
// --api and --token (TESSERA_API, TESSERA_TOKEN).
func operatorClient(cmd, api, token string) (client, error) {
	if api == "" || token == "" {
		return client{}, errors.New(cmd + ": set TESSERA_API and TESSERA_TOKEN (source .local/env; TESSERA_TOKEN=$(tessera login --email operator@tessera.test))")
	}
	return client{base: strings.TrimRight(api, "/"), token: token}, nil
}

type client struct {
	base, token string
}

func (c client) do(ctx context.Context, method, path string, body any, headers map[string]string) (any, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var out any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, fmt.Errorf("%s %s: %d: not JSON: %.200s", method, path, resp.StatusCode, raw)
		}
	}
	if resp.StatusCode >= 300 {
		return nil, &httpError{Method: method, Path: path, Status: resp.StatusCode, Body: strings.TrimSpace(string(raw))}
	}
	return out, nil
}

// httpError is an answer of the API that is not a success.
type httpError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Body)
}

// waitFor polls the tenant until its status is one of want (or 10 minutes
// pass).
func (c client) waitFor(ctx context.Context, id string, want ...string) (any, error) {
	deadline := time.Now().Add(10 * time.Minute)
	for {
		out, err := c.do(ctx, "GET", "/v1/tenants/"+url.PathEscape(id), nil, nil)
		if err != nil {
			return nil, err
		}
		status, _ := out.(map[string]any)["status"].(string)
		for _, w := range want {
			if status == w {
				return out, nil
			}
		}
		if time.Now().After(deadline) {
			return out, fmt.Errorf("tenant %s is still %s", id, status)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
