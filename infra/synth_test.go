package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// Synthesis costs seconds (the CDK runs in a node process), so every test
// binary synthesizes the app once, on first use, into a temporary cloud
// assembly that the assertion tests and the cfn-lint test share.

const testStage = "test"

// synthesized is the app synthesized once per test binary.
type synthesized struct {
	Root   string
	Outdir string
	Stacks stacks
	// Templates by stack: the assertions view and the plain JSON.
	Data, App, Tenant, DR                 assertions.Template
	DataJSON, AppJSON, TenantJSON, DRJSON cfnTemplate
}

var (
	tempDirs  []string
	synthOnce = sync.OnceValues(synthApp)
)

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	for _, d := range tempDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// synth returns the synthesized app, synthesizing it on first use.
func synth(t *testing.T) *synthesized {
	t.Helper()
	s, err := synthOnce()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func synthApp() (*synthesized, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	outdir, err := mkTemp("tessera-cdk-out-")
	if err != nil {
		return nil, err
	}
	codeDir, err := placeholderCode()
	if err != nil {
		return nil, err
	}
	app, err := newApp(root, outdir, map[string]any{"stage": testStage})
	if err != nil {
		return nil, err
	}
	cfg, err := configFrom(app)
	if err != nil {
		return nil, err
	}
	cfg.Env = nil // environment-agnostic, whatever the machine's CDK_DEFAULT_* say
	// ... and so the DR configuration: the default DR Region.
	if cfg.DR, err = drFrom(app, contextStrings(app), "", cfg.Prod()); err != nil {
		return nil, err
	}
	st, err := newStacks(app, cfg, codeDir)
	if err != nil {
		return nil, err
	}
	app.Synth(nil)
	s := &synthesized{Root: root, Outdir: outdir, Stacks: st}
	for _, x := range []struct {
		stack awscdk.Stack
		tmpl  *assertions.Template
		json  *cfnTemplate
	}{
		{st.Data.Stack, &s.Data, &s.DataJSON},
		{st.App.Stack, &s.App, &s.AppJSON},
		{st.Tenant, &s.Tenant, &s.TenantJSON},
		{st.DR.Stack, &s.DR, &s.DRJSON},
	} {
		*x.tmpl = assertions.Template_FromStack(x.stack, nil)
		if *x.json, err = readTemplate(filepath.Join(outdir, *x.stack.ArtifactId()+".template.json")); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// placeholderCode makes a code directory with a stand-in bootstrap per
// function, so the tests need neither dist/ nor a cross-compilation.
func placeholderCode() (string, error) {
	dir, err := mkTemp("tessera-code-")
	if err != nil {
		return "", err
	}
	for _, spec := range functionSpecs {
		fnDir := filepath.Join(dir, string(spec.Name))
		if err := os.MkdirAll(fnDir, 0o755); err != nil {
			return "", fmt.Errorf("placeholder code: %w", err)
		}
		if err := os.WriteFile(filepath.Join(fnDir, "bootstrap"), []byte("placeholder"), 0o755); err != nil {
			return "", fmt.Errorf("placeholder code: %w", err)
		}
	}
	return dir, nil
}

func mkTemp(pattern string) (string, error) {
	d, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", fmt.Errorf("temp dir: %w", err)
	}
	tempDirs = append(tempDirs, d)
	return d, nil
}

// cfnTemplate is a CloudFormation template as generic JSON.
type cfnTemplate map[string]any

func readTemplate(path string) (cfnTemplate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	var t cfnTemplate
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("parse template %s: %w", path, err)
	}
	return t, nil
}

// resources returns the resources of type typ by logical id.
func (t cfnTemplate) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	all, _ := t["Resources"].(map[string]any)
	for id, r := range all {
		res, _ := r.(map[string]any)
		if res["Type"] == typ {
			out[id] = res
		}
	}
	return out
}

// props returns a resource's Properties.
func props(res map[string]any) map[string]any {
	p, _ := res["Properties"].(map[string]any)
	return p
}

// logicalID returns the logical id of the one resource of type typ whose
// id starts with prefix.
func (t cfnTemplate) logicalID(tb testing.TB, typ, prefix string) string {
	tb.Helper()
	var ids []string
	for id := range t.resources(typ) {
		if strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		tb.Fatalf("want one %s with logical id %s*, found %v", typ, prefix, ids)
	}
	return ids[0]
}

// strs reads an IAM-style "string or list of strings" value.
func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// list reads a "value or list of values" (IAM Resource, Statement).
func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// jsonOf renders v compactly, to look for references in it.
func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// actionMatches reports whether the IAM action pattern (wildcards allowed,
// case-insensitive) grants action.
func actionMatches(pattern, action string) bool {
	re := "(?i)^" + strings.ReplaceAll(strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*"), `\?`, ".") + "$"
	return regexp.MustCompile(re).MatchString(action)
}

func ref(id string) map[string]any       { return map[string]any{"Ref": id} }
func getAtt(id, attr string) []any       { return []any{id, attr} }
func getAttArn(id string) map[string]any { return map[string]any{"Fn::GetAtt": getAtt(id, "Arn")} }

// check runs one assertion of the CDK assertions library, turning its
// failure (a panic through jsii) into a test error.
func check(t *testing.T, what string, assertion func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	assertion()
}
