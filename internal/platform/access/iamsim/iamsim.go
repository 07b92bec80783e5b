package iamsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Decisions the simulator reaches.
const (
	Allowed          = "Allowed"
	ImplicitlyDenied = "ImplicitlyDenied"
	ExplicitlyDenied = "ExplicitlyDenied"
)

// InstallHint says how to install the simulator.
const InstallHint = "run `npm ci --prefix tools/iamsim` to install the IAM policy simulator"

// Request is one request for simulate.mjs (see the comment at its top).
type Request struct {
	Name             string            `json:"name"`
	IdentityPolicies []json.RawMessage `json:"identityPolicies"`
	// ResourcePolicy is the resource's policy (a KMS key policy, a bucket
	// policy), or empty.
	ResourcePolicy json.RawMessage `json:"resourcePolicy,omitempty"`
	Principal      string          `json:"principal"`
	Action         string          `json:"action"`
	Resource       string          `json:"resource"`
	// AccountID owns the resource.
	AccountID string `json:"accountId"`
	// Context holds the request's condition keys, resource tags and
	// aliases included ("aws:ResourceTag/tenantId", "kms:ResourceAliases").
	Context map[string]any `json:"context"`
}

// Result is the simulator's answer to one Request.
type Result struct {
	Name     string `json:"name"`
	Decision string `json:"decision"`
	Error    string `json:"error"`
	// IgnoredContextKeys were dropped by the simulator as not applying to
	// the action: a case that sends one does not test what it claims.
	IgnoredContextKeys []string `json:"ignoredContextKeys"`
	TemplateKeys       []string `json:"templateKeys"`
	// AllowedBy and DeniedBy are the matching statements, "<policy>/<Sid>".
	AllowedBy []string `json:"allowedBy"`
	DeniedBy  []string `json:"deniedBy"`
}

// Script returns the path of simulate.mjs, found in tools/iamsim above the
// working directory. When the simulator or node is not installed it skips
// the test, or fails it in CI (CI=true).
func Script(tb testing.TB) string {
	tb.Helper()
	unavailable := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	dir, err := toolDir()
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@cloud-copilot", "iam-simulate")); err != nil {
		unavailable("IAM simulator not installed (%v): %s", err, InstallHint)
	}
	if _, err := exec.LookPath("node"); err != nil {
		unavailable("node not found (%v): install Node.js, then %s", err, InstallHint)
	}
	return filepath.Join(dir, "simulate.mjs")
}

// toolDir walks up from the working directory to tools/iamsim.
func toolDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find tools/iamsim: %w", err)
	}
	for {
		d := filepath.Join(dir, "tools", "iamsim")
		if _, err := os.Stat(filepath.Join(d, "simulate.mjs")); err == nil {
			return d, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("find tools/iamsim: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find tools/iamsim: no tools/iamsim/simulate.mjs above the working directory")
		}
		dir = parent
	}
}

// Run evaluates all requests in one node process, answers in order.
func Run(script string, reqs []Request) ([]Result, error) {
	in, err := json.Marshal(reqs)
	if err != nil {
		return nil, fmt.Errorf("encode simulator requests: %w", err)
	}
	cmd := exec.Command("node", script)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("run %s: %w\n%s", script, err, stderr.String())
	}
	var results []Result
	if err := json.Unmarshal(out, &results); err != nil {
		return nil, fmt.Errorf("decode simulator output: %w\n%s", err, out)
	}
	if len(results) != len(reqs) {
		return nil, fmt.Errorf("simulator answered %d of %d requests", len(results), len(reqs))
	}
	return results, nil
}

// Check reports, as a subtest per request, every result whose decision is
// not want[i], or that the simulator could not evaluate faithfully (an
// error, or a context key it ignored).
func Check(t *testing.T, reqs []Request, results []Result, want []string) {
	t.Helper()
	for i, r := range results {
		t.Run(reqs[i].Name, func(t *testing.T) {
			t.Logf("%s %s -> %s (allowed by %v, denied by %v)", reqs[i].Action, reqs[i].Resource, r.Decision, r.AllowedBy, r.DeniedBy)
			if r.Error != "" {
				t.Fatalf("simulator error: %s", r.Error)
			}
			if len(r.IgnoredContextKeys) > 0 {
				t.Fatalf("simulator ignored context keys %v: the case would not test what it claims", r.IgnoredContextKeys)
			}
			if r.Decision != want[i] {
				t.Errorf("decision = %s, want %s", r.Decision, want[i])
			}
		})
	}
}
