package arch_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The rules, as data. Paths are relative to the module, so the same rules run
// on the real module and on the fixture module in testdata/badplanes.

// planes maps each plane (a path prefix in the module) to the planes that the
// package code (non-test files) of its packages may import, its own included.
// A package belongs to the plane of the longest prefix that matches its path,
// and every package of the module must belong to one. Libraries (anything
// outside the module) are not restricted here.
var planes = map[string][]string{
	"internal/platform": {"internal/platform"},
	"internal/app":      {"internal/app", "internal/platform"},
	"internal/control":  {"internal/control", "internal/platform"},
	"internal/wire":     {"internal/wire", "internal/app", "internal/control", "internal/platform"},
	"internal/local":    {"internal/local", "internal/wire", "internal/app", "internal/control", "internal/platform"},
	"internal/arch":     {}, // tests only
	"functions":         {"internal/wire"},
	"cmd":               {"internal/local", "internal/wire", "internal/app", "internal/control", "internal/platform"},
}

// testHarness lists the planes that test files (the package's _test.go files,
// internal and external) may import on top of what their plane's package code
// may: the local stack (testenv and its fixtures) and the composition root.
// Everything else holds for tests too: an app test does not import the
// control plane, nor a platform test the app or control plane.
var testHarness = []string{"internal/local", "internal/wire"}

// mustNotLink: a binary under binaries must not link any package under
// forbidden, directly or through any chain of imports, which is what
// `go list -deps` names for the binary.
var mustNotLink = []struct{ binaries, forbidden, why string }{
	{"functions", "internal/local", "a Lambda binary must not link the local stack"},
}

// dynamoDBClient is the DynamoDB service client; only allowedDynamoDB may
// import it in package code.
const dynamoDBClient = "github.com/aws/aws-sdk-go-v2/service/dynamodb"

var allowedDynamoDB = map[string]bool{
	"internal/platform/store":  true,
	"internal/local/bootstrap": true, // creates the tables
}

// allowedKMSData may use KMS data operations in package code.
var allowedKMSData = map[string]bool{
	"internal/platform/crypto":   true,
	"internal/control/tenantkey": true, // key lifecycle only; see its doc
	"internal/local/bootstrap":   true,
	"internal/control/provision": true,
}

// kmsDataOps are the KMS operations that use key material.
var kmsDataOps = []string{"Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyPair",
	"GenerateDataKeyWithoutPlaintext", "GenerateDataKeyPairWithoutPlaintext", "GenerateMac", "Sign"}

const kmsClient = "github.com/aws/aws-sdk-go-v2/service/kms"

// The rules' names, as violations and failure messages carry them.
const (
	ruleLoads       = "go-list-loads"          // go list could read the package
	ruleInAPlane    = "in-a-plane"             // every package belongs to a plane
	rulePlanes      = "plane-imports"          // package code imports only allowed planes
	ruleTestPlanes  = "plane-test-imports"     // test files import only allowed planes + harness
	ruleLinks       = "no-local-in-lambdas"    // mustNotLink
	ruleDynamoDB    = "dynamodb-only-in-store" // allowedDynamoDB
	ruleKMS         = "kms-only-in-crypto"     // allowedKMSData
	rulePackageDocs = "package-doc"            // doc.go with a package comment
)

// checkRules are the rules check runs, in the order the tests report them.
var checkRules = []string{ruleLoads, ruleInAPlane, rulePlanes, ruleTestPlanes, ruleLinks, ruleDynamoDB, ruleKMS}

// pkg is what the rules need of a package, as `go list -json` reports it.
type pkg struct {
	ImportPath   string
	Dir          string
	Module       *struct{ Path string }
	Imports      []string // of the package code (GoFiles)
	TestImports  []string // of its _test.go files in the package
	XTestImports []string // of its _test.go files in package <name>_test
	GoFiles      []string
	Error        *struct{ Pos, Err string }
}

// violation is one broken rule: from imports (or links, or calls) to.
type violation struct {
	rule, from, to string // from and to are module-relative when in the module
	msg            string // the whole story, for the failure message
}

func (v violation) String() string { return v.rule + ": " + v.msg }

// key is "from -> to", or from alone when the rule is about from itself.
func (v violation) key() string {
	if v.to == "" {
		return v.from
	}
	return v.from + " -> " + v.to
}

// check runs every rule but the package docs over pkgs (the output of
// `go list -e -deps` for module) and returns the violations, sorted.
func check(module string, pkgs []pkg) []violation {
	var vs []violation
	byPath := map[string]pkg{}
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	for _, p := range pkgs {
		if p.Module == nil || p.Module.Path != module {
			continue // the standard library, libraries, or an import that did not resolve
		}
		from := relPath(module, p.ImportPath)
		if p.Error != nil {
			vs = append(vs, violation{ruleLoads, from, "", fmt.Sprintf("go list cannot load %s, so the other rules may not have seen all its imports: %s %s", from, p.Error.Pos, p.Error.Err)})
		}
		vs = append(vs, checkPlanes(module, from, p)...)
		vs = append(vs, checkDynamoDB(from, p)...)
		vs = append(vs, checkKMS(from, p)...)
		vs = append(vs, checkLinks(module, from, p, byPath)...)
	}
	slices.SortFunc(vs, func(a, b violation) int {
		return strings.Compare(a.rule+"\x00"+a.from+"\x00"+a.to, b.rule+"\x00"+b.from+"\x00"+b.to)
	})
	return vs
}

func checkPlanes(module, from string, p pkg) []violation {
	plane, ok := planeOf(from)
	if !ok {
		return []violation{{ruleInAPlane, from, "", fmt.Sprintf("%s is in no plane (%s): move it into one, or give its plane a row in the table", from, strings.Join(sortedKeys(planes), ", "))}}
	}
	var vs []violation
	allowed := planes[plane]
	for _, imp := range p.Imports {
		if to, toPlane, ok := planeImport(module, imp); ok && !slices.Contains(allowed, toPlane) {
			vs = append(vs, violation{rulePlanes, from, to, fmt.Sprintf("%s imports %s (plane %s); %s may import only %s",
				from, to, toPlane, plane, list(allowed))})
		}
	}
	testAllowed := append(slices.Clone(allowed), testHarness...)
	for _, imp := range slices.Concat(p.TestImports, p.XTestImports) {
		if slices.Contains(p.Imports, imp) {
			continue // reported above if it breaks a rule
		}
		if to, toPlane, ok := planeImport(module, imp); ok && !slices.Contains(testAllowed, toPlane) {
			vs = append(vs, violation{ruleTestPlanes, from, to, fmt.Sprintf("tests of %s import %s (plane %s); tests in %s may import only %s, and the test harness %s",
				from, to, toPlane, plane, list(allowed), list(testHarness))})
		}
	}
	return vs
}

// planeImport says whether imp is a package of module in a plane, and which.
// A module package in no plane breaks in-a-plane on its own, so its importers
// are not reported too.
func planeImport(module, imp string) (to, plane string, ok bool) {
	if !inModule(module, imp) {
		return "", "", false
	}
	to = relPath(module, imp)
	plane, ok = planeOf(to)
	return to, plane, ok
}

func checkDynamoDB(from string, p pkg) []violation {
	if allowedDynamoDB[from] || !slices.Contains(p.Imports, dynamoDBClient) {
		return nil
	}
	return []violation{{ruleDynamoDB, from, dynamoDBClient, fmt.Sprintf("%s imports the DynamoDB client; only internal/platform/store may build keys and call DynamoDB", from)}}
}

func checkKMS(from string, p pkg) []violation {
	if allowedKMSData[from] || !slices.Contains(p.Imports, kmsClient) {
		return nil
	}
	var vs []violation
	for _, f := range p.GoFiles {
		ops, err := kmsDataCalls(filepath.Join(p.Dir, f))
		if err != nil {
			vs = append(vs, violation{ruleLoads, from, f, fmt.Sprintf("cannot read %s of %s for the KMS rule: %v", f, from, err)})
		}
		for _, op := range ops {
			vs = append(vs, violation{ruleKMS, from, "kms." + op, fmt.Sprintf("%s (%s) uses kms.%s; only internal/platform/crypto may use tenant key material", from, f, op)})
		}
	}
	return vs
}

// kmsDataCalls lists the KMS data operations a file refers to, through their
// input types (kms.DecryptInput), whatever name the kms package is imported as.
func kmsDataCalls(path string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	kmsName := ""
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == kmsClient {
			kmsName = "kms"
			if imp.Name != nil {
				kmsName = imp.Name.Name
			}
		}
	}
	if kmsName == "" {
		return nil, nil
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
	return found, nil
}

// checkLinks follows the package code's imports of a binary breadth first,
// through the module's packages (a library cannot import them back), and
// reports each forbidden package it reaches, with the shortest chain. It does
// not go on into a forbidden package: the first one crossed is the news.
func checkLinks(module, from string, p pkg, byPath map[string]pkg) []violation {
	var vs []violation
	for _, r := range mustNotLink {
		if !under(from, r.binaries) {
			continue
		}
		via := map[string]string{p.ImportPath: ""} // package -> its importer on the chain
		queue := []string{p.ImportPath}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			for _, imp := range byPath[cur].Imports {
				if _, seen := via[imp]; seen || !inModule(module, imp) {
					continue
				}
				via[imp] = cur
				to := relPath(module, imp)
				if !under(to, r.forbidden) {
					queue = append(queue, imp)
					continue
				}
				var chain []string
				for at := imp; at != ""; at = via[at] {
					chain = append([]string{relPath(module, at)}, chain...)
				}
				vs = append(vs, violation{ruleLinks, from, to, fmt.Sprintf("%s links %s (%s); %s",
					from, to, strings.Join(chain, " -> "), r.why)})
			}
		}
	}
	return vs
}

// checkDoc reports a package directory (module-relative rel, at dir) that has
// no doc.go, or a doc.go without a package comment.
func checkDoc(rel, dir string) []violation {
	path := filepath.Join(dir, "doc.go")
	if _, err := os.Stat(path); err != nil {
		return []violation{{rulePackageDocs, rel, "doc.go", fmt.Sprintf("%s has no doc.go: say in its package comment what it owns", rel)}}
	}
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
	if err != nil {
		return []violation{{rulePackageDocs, rel, "doc.go", fmt.Sprintf("%s/doc.go does not parse: %v", rel, err)}}
	}
	if f.Doc == nil || strings.TrimSpace(f.Doc.Text()) == "" {
		return []violation{{rulePackageDocs, rel, "doc.go", fmt.Sprintf("%s/doc.go has no package comment (a comment right above `package %s`)", rel, f.Name.Name)}}
	}
	return nil
}

// planeOf returns the plane of a module-relative path: its longest prefix in planes.
func planeOf(rel string) (string, bool) {
	best := ""
	for plane := range planes {
		if under(rel, plane) && len(plane) > len(best) {
			best = plane
		}
	}
	return best, best != ""
}

// under says whether the module-relative path rel is prefix or below it.
func under(rel, prefix string) bool {
	return rel == prefix || strings.HasPrefix(rel, prefix+"/")
}

func inModule(module, path string) bool {
	return path == module || strings.HasPrefix(path, module+"/")
}

func relPath(module, path string) string {
	if path == module {
		return "."
	}
	return strings.TrimPrefix(path, module+"/")
}

func list(planes []string) string {
	if len(planes) == 0 {
		return "nothing of the module"
	}
	return strings.Join(planes, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
