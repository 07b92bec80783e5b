package openapi_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/wire/openapi"
)

func routerDocument(t *testing.T) []byte {
	t.Helper()
	doc, err := openapi.RouterDocument()
	if err != nil {
		t.Fatalf("RouterDocument: %v", err)
	}
	return doc
}

// The router API's document is checked in beside the cells' API's, current,
// valid, and has exactly the router's routes.
func TestCheckedInRouterDocumentIsCurrentAndValid(t *testing.T) {
	root := repoRoot(t)
	want := routerDocument(t)
	got, err := os.ReadFile(filepath.Join(root, openapi.RouterPath))
	if err != nil {
		t.Fatalf("%v: run `make openapi`", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not the document the code describes: run `make openapi`", openapi.RouterPath)
	}
	var d doc
	if err := json.Unmarshal(want, &d); err != nil {
		t.Fatal(err)
	}
	n := 0
	for path, ops := range d.Paths {
		for method, op := range ops {
			n++
			r, ok := route.ByKeyIn(route.Router, strings.ToUpper(method)+" "+path)
			if !ok || r.Name != op.OperationID {
				t.Errorf("%s %s (%s) is not a router route", method, path, op.OperationID)
			}
		}
	}
	if n != len(route.Router) {
		t.Errorf("%d operations, want the %d router routes", n, len(route.Router))
	}
	py := filepath.Join(root, ".venv", "bin", "python")
	if _, err := os.Stat(py); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing: `make tools` installs the validator", py)
		}
		t.Skipf("SKIPPING the validator: %s missing (run `make tools`)", py)
	}
	cmd := exec.Command(py, "-m", "openapi_spec_validator", openapi.RouterPath)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("openapi-spec-validator %s: %v\n%s", openapi.RouterPath, err, out)
	}
}
