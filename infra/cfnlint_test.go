package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// cfnLintIgnored are the cfn-lint rules not applied, each with its reason.
var cfnLintIgnored = map[string]string{
	// The CDK's Lambda Function adds an explicit DependsOn on its role
	// (and on the role's default policy, which is needed); the one on the
	// role duplicates the GetAtt. Harmless, and not ours to remove.
	"W3005": "redundant DependsOn emitted by awslambda.Function",
}

// TestCfnLint runs cfn-lint (from the project's .venv) on every template of
// the app. Without cfn-lint the test skips, or fails in CI (CI=true).
func TestCfnLint(t *testing.T) {
	s := synth(t)
	lint := filepath.Join(s.Root, ".venv", "bin", "cfn-lint")
	if _, err := os.Stat(lint); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cfn-lint not installed (%v): run `make tools`", err)
		}
		t.Skipf("cfn-lint not installed (%v): run `make tools`", err)
	}
	templates, err := filepath.Glob(filepath.Join(s.Outdir, "*.template.json"))
	// Data, App, DR and TenantStack.
	if err != nil || len(templates) != 4 {
		t.Fatalf("templates in %s: %v (%v), want 4", s.Outdir, templates, err)
	}
	args := []string{}
	for rule := range cfnLintIgnored {
		args = append(args, "--ignore-checks", rule)
	}
	args = append(args, "--")
	args = append(args, templates...)
	out, err := exec.Command(lint, args...).CombinedOutput()
	if err != nil {
		t.Errorf("cfn-lint %v: %v\n%s", args, err, out)
	}
}
