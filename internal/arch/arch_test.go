package arch_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/tessera-saas/tessera/"

// allowedDynamoDB may import the DynamoDB service client in non-test code.
var allowedDynamoDB = map[string]bool{
	module + "internal/platform/store":  true,
	module + "internal/local/bootstrap": true,
}

// allowedKMSData may call KMS data operations in non-test code.
var allowedKMSData = map[string]bool{
	module + "internal/platform/crypto":   true,
	module + "internal/control/tenantkey": true, // key lifecycle only; see its doc
	module + "internal/local/bootstrap":   true,
	module + "internal/control/provision": true,
}

// kmsDataOps are the KMS operations that use key material.
var kmsDataOps = []string{"Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyPair",
	"GenerateDataKeyWithoutPlaintext", "GenerateDataKeyPairWithoutPlaintext", "GenerateMac", "Sign"}

type pkg struct {
	ImportPath string
	Dir        string
	Imports    []string
	GoFiles    []string
}

func packages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func TestOnlyStoreImportsDynamoDB(t *testing.T) {
	for _, p := range packages(t) {
		for _, imp := range p.Imports {
			if imp == "github.com/aws/aws-sdk-go-v2/service/dynamodb" && !allowedDynamoDB[p.ImportPath] {
				t.Errorf("%s imports the DynamoDB client; only internal/platform/store may build keys and call DynamoDB", p.ImportPath)
			}
		}
	}
}

func TestOnlyCryptoCallsKMSDataOperations(t *testing.T) {
	for _, p := range packages(t) {
		if allowedKMSData[p.ImportPath] {
			continue
		}
		for _, f := range p.GoFiles {
			for _, op := range kmsDataCalls(t, filepath.Join(p.Dir, f)) {
				t.Errorf("%s (%s) uses kms.%s; only internal/platform/crypto may use tenant key material", p.ImportPath, f, op)
			}
		}
	}
}

// kmsDataCalls lists the KMS data operations a file refers to, through their
// input types (kms.DecryptInput) or method calls on a value of an imported
// kms package.
func kmsDataCalls(t *testing.T, path string) []string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), path, src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	kmsName := ""
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == "github.com/aws/aws-sdk-go-v2/service/kms" {
			kmsName = "kms"
			if imp.Name != nil {
				kmsName = imp.Name.Name
			}
		}
	}
	if kmsName == "" {
		return nil
	}
	var found []string
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok && id.Name == kmsName {
			for _, op := range kmsDataOps {
				if sel.Sel.Name == op+"Input" {
					found = append(found, op)
				}
			}
		}
		return true
	})
	return found
}

// TestGuardSeesViolations proves the KMS check is not vacuous: it finds the
// data operations that internal/platform/crypto does use.
func TestGuardSeesViolations(t *testing.T) {
	var seen []string
	storeImports := false
	for _, p := range packages(t) {
		for _, imp := range p.Imports {
			storeImports = storeImports || (p.ImportPath == module+"internal/platform/store" && imp == "github.com/aws/aws-sdk-go-v2/service/dynamodb")
		}
		if p.ImportPath != module+"internal/platform/crypto" {
			continue
		}
		for _, f := range p.GoFiles {
			seen = append(seen, kmsDataCalls(t, filepath.Join(p.Dir, f))...)
		}
	}
	if !storeImports {
		t.Fatal("guard did not see internal/platform/store's DynamoDB import")
	}
	joined := strings.Join(seen, ",")
	if !strings.Contains(joined, "GenerateDataKey") || !strings.Contains(joined, "Decrypt") {
		t.Fatalf("guard did not see internal/platform/crypto's own KMS calls (saw %q)", joined)
	}
}
