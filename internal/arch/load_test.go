package arch_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

const (
	repoModule    = "github.com/tessera-saas/tessera"
	fixtureModule = "example.test/badplanes" // testdata/badplanes/go.mod
)

var repoRoot = filepath.Join("..", "..")

// goList runs `go list -e -deps -json` over ./... in dir: every package of
// the module and every package they link. With -e, a package go list cannot
// load (another edit in progress, a missing module) comes back with its Error
// instead of failing the whole listing.
func goList(dir string, env ...string) ([]pkg, error) {
	cmd := exec.Command("go", "list", "-e", "-deps",
		"-json=ImportPath,Dir,Module,Imports,TestImports,XTestImports,GoFiles,Error", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list in %s: %v\n%s", dir, err, stderr.Bytes())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("go list in %s: %v", dir, err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

var repoList = sync.OnceValues(func() ([]pkg, error) { return goList(repoRoot) })

// repoPackages lists the real module once for all the tests.
func repoPackages(t *testing.T) []pkg {
	t.Helper()
	pkgs, err := repoList()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range pkgs {
		if p.Module != nil && p.Module.Path == repoModule {
			n++
		}
	}
	if n < 10 {
		t.Fatalf("go list found only %d packages of %s in %s", n, repoModule, repoRoot)
	}
	return pkgs
}

// fixturePackages lists testdata/badplanes, offline: its imports of the AWS
// SDK resolve to no module, which go list -e reports without a lookup, and
// the rules only need the import paths.
func fixturePackages(t *testing.T) []pkg {
	t.Helper()
	pkgs, err := goList(filepath.Join("testdata", "badplanes"),
		"GOWORK=off", "GOPROXY=off", "GOFLAGS=-mod=readonly", "GOTOOLCHAIN=local")
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}
