package openapi_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/wire/openapi"
)

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
	validates(t, openapi.RouterPath)
}
