package openapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/app/tenantapi"
	"github.com/tessera-saas/tessera/internal/control/operatorapi"
	"github.com/tessera-saas/tessera/internal/local/emulator"
	"github.com/tessera-saas/tessera/internal/platform/apidoc"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/wire/openapi"
)

const module = "github.com/tessera-saas/tessera/"

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := emulator.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func document(t *testing.T) []byte { return generated(t, "Document", openapi.Document) }

func routerDocument(t *testing.T) []byte {
	return generated(t, "RouterDocument", openapi.RouterDocument)
}

// generated is a document the code describes now.
func generated(t *testing.T, name string, gen func() ([]byte, error)) []byte {
	t.Helper()
	doc, err := gen()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return doc
}

// TestCheckedInDocumentIsCurrent regenerates the document and compares it
// with api/openapi.json: a route, field, constraint or error code that
// changed without `make openapi` fails here.
func TestCheckedInDocumentIsCurrent(t *testing.T) {
	want := document(t)
	got, err := os.ReadFile(filepath.Join(repoRoot(t), openapi.Path))
	if err != nil {
		t.Fatalf("%v: run `make openapi`", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s is not the document the code describes: run `make openapi`.\nfirst difference, line %d:\n  checked in: %s\n  generated:  %s", openapi.Path, i+1, g, w)
		}
	}
}

// TestDocumentIsValidOpenAPI runs a real validator (openapi-spec-validator,
// pinned in requirements.txt, installed into .venv by `make tools`) on the
// checked-in document. Without the venv the test skips, except in CI.
func TestDocumentIsValidOpenAPI(t *testing.T) {
	py := validates(t, openapi.Path)

	// And a document it must refuse, so that the run above means something.
	bad := filepath.Join(t.TempDir(), "bad.json")
	var d map[string]any
	if err := json.Unmarshal(document(t), &d); err != nil {
		t.Fatal(err)
	}
	d["paths"].(map[string]any)["/v1/products/{id}"].(map[string]any)["get"].(map[string]any)["parameters"] = []any{}
	b, _ := json.Marshal(d)
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-m", "openapi_spec_validator", bad)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("the validator accepted a path parameter without its definition: %s", out)
	}
}

// validates runs openapi-spec-validator (pinned in .venv) on the checked-in
// document at path and returns the venv's python. Without the venv the test
// skips, except in CI, where it fails.
func validates(t *testing.T, path string) string {
	t.Helper()
	root := repoRoot(t)
	py := filepath.Join(root, ".venv", "bin", "python")
	if _, err := os.Stat(py); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing: `make tools` installs the validator", py)
		}
		t.Skipf("SKIPPING: %s missing (run `make tools`)", py)
	}
	cmd := exec.Command(py, "-m", "openapi_spec_validator", path)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openapi-spec-validator %s: %v\n%s", path, err, out)
	}
	if !strings.Contains(string(out), "OK") {
		t.Fatalf("openapi-spec-validator said: %s", out)
	}
	return py
}

type doc struct {
	Paths map[string]map[string]struct {
		OperationID string   `json:"operationId"`
		Tags        []string `json:"tags"`
		Security    []map[string][]string
		Responses   map[string]struct {
			Content map[string]struct {
				Schema struct {
					AllOf []struct {
						Properties struct {
							Error struct {
								Properties struct {
									Code struct {
										Enum []string `json:"enum"`
									} `json:"code"`
								} `json:"properties"`
							} `json:"error"`
						} `json:"properties"`
					} `json:"allOf"`
				} `json:"schema"`
			} `json:"content"`
		} `json:"responses"`
	} `json:"paths"`
}

func parse(t *testing.T) doc {
	var d doc
	if err := json.Unmarshal(document(t), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestEveryRouteIsDocumented: one operation per route of route.All, under
// its path and method, named by the route, tagged and secured by its
// audience.
func TestEveryRouteIsDocumented(t *testing.T) {
	d := parse(t)
	n := 0
	for _, ops := range d.Paths {
		n += len(ops)
	}
	if n != len(route.All) {
		t.Errorf("%d operations, %d routes", n, len(route.All))
	}
	schemes := map[route.Audience]string{route.TenantUser: apidoc.SchemeTenant, route.Operator: apidoc.SchemeOperator}
	for _, r := range route.All {
		op, ok := d.Paths[r.Path][strings.ToLower(r.Method)]
		if !ok || op.OperationID != r.Name {
			t.Errorf("%s: operation %q, want %s", r.Key(), op.OperationID, r.Name)
			continue
		}
		var got []string
		for _, s := range op.Security {
			for k := range s {
				got = append(got, k)
			}
		}
		if want := schemes[r.Audience]; (want == "" && len(got) > 0) || (want != "" && !slices.Equal(got, []string{want})) {
			t.Errorf("%s: security %v, want %q", r.Name, got, want)
		}
	}
}

// codesNotPerOperation are the codes no documented operation answers: they
// answer paths and methods the document does not have.
var codesNotPerOperation = []string{"route_not_found", "method_not_allowed"}

// TestEveryErrorCodeIsDocumented: each code constant of
// internal/platform/edge (the API's contract) is in some response of the
// document or of the router's, so a new code cannot ship undocumented.
func TestEveryErrorCodeIsDocumented(t *testing.T) {
	documented := map[string]bool{}
	var router doc
	if err := json.Unmarshal(routerDocument(t), &router); err != nil {
		t.Fatal(err)
	}
	for _, d := range []doc{parse(t), router} { // the cells' API and the router's
		for _, ops := range d.Paths {
			for _, op := range ops {
				for _, resp := range op.Responses {
					for _, a := range resp.Content["application/json"].Schema.AllOf {
						for _, c := range a.Properties.Error.Properties.Code.Enum {
							documented[c] = true
						}
					}
				}
			}
		}
	}
	codes := constValues(t, "internal/platform/edge", func(name, _ string) bool { return strings.HasPrefix(name, "Code") })
	if len(codes) < 20 {
		t.Fatalf("found %d codes in internal/platform/edge: the parse is broken", len(codes))
	}
	for _, c := range codes {
		if !documented[c] && !slices.Contains(codesNotPerOperation, c) {
			t.Errorf("error code %q (internal/platform/edge) is in no response of the document", c)
		}
	}
}

// TestEnumsListEveryValue: the values the contracts give each string type
// are exactly the constants of that type in its package.
func TestEnumsListEveryValue(t *testing.T) {
	c, err := apidoc.Merge(tenantapi.Contract(), operatorapi.Contract())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Enums) == 0 {
		t.Fatal("no enums")
	}
	for typ, values := range c.Enums {
		dir := strings.TrimPrefix(typ.PkgPath(), module)
		consts := constValues(t, dir, func(_, typeName string) bool { return typeName == typ.Name() })
		got, want := slices.Sorted(slices.Values(values)), slices.Sorted(slices.Values(consts))
		if !slices.Equal(got, want) {
			t.Errorf("%s: the document lists %v, the package declares %v", typ, got, want)
		}
	}
}

// constValues parses the package in dir (relative to the module) and
// returns the string constants for which keep(name, type) holds; the type of
// a constant in a typed group carries on to the ones after it.
func constValues(t *testing.T, dir string, keep func(name, typeName string) bool) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(repoRoot(t), dir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, fi := range entries {
		if !strings.HasSuffix(fi.Name(), ".go") || strings.HasSuffix(fi.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(repoRoot(t), dir, fi.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			typeName := ""
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if vs.Type != nil {
					typeName = fmt.Sprint(vs.Type)
				} else if len(vs.Values) > 0 {
					typeName = ""
				}
				for i, name := range vs.Names {
					if i >= len(vs.Values) || !keep(name.Name, typeName) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatalf("const %s: %v", name.Name, err)
					}
					out = append(out, v)
				}
			}
		}
	}
	return out
}
