package arch_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// byRule keeps the violations of one rule.
func byRule(vs []violation, rule string) []violation {
	var out []violation
	for _, v := range vs {
		if v.rule == rule {
			out = append(out, v)
		}
	}
	return out
}

// TestRepoFollowsRules runs every rule over the real module: no violations.
func TestRepoFollowsRules(t *testing.T) {
	vs := check(repoModule, repoPackages(t))
	for _, rule := range checkRules {
		t.Run(rule, func(t *testing.T) {
			for _, v := range byRule(vs, rule) {
				t.Error(v)
			}
		})
	}
}

// TestPackageDocs: each plane folder under internal/ and every package of the
// module under internal/ has a doc.go with a package comment.
func TestPackageDocs(t *testing.T) {
	dirs := map[string]string{} // module-relative -> directory
	for plane := range planes {
		if under(plane, "internal") {
			dirs[plane] = filepath.Join(repoRoot, filepath.FromSlash(plane))
		}
	}
	for _, p := range repoPackages(t) {
		if p.Module != nil && p.Module.Path == repoModule && under(relPath(repoModule, p.ImportPath), "internal") && p.Dir != "" {
			dirs[relPath(repoModule, p.ImportPath)] = p.Dir
		}
	}
	for _, rel := range sortedKeys(dirs) {
		for _, v := range checkDoc(rel, dirs[rel]) {
			t.Error(v)
		}
	}
}

// TestRuleTable keeps the table honest: every plane it allows is a row, every
// row is a directory of the module, and every package an allowlist names
// exists, so a rename cannot leave a rule checking nothing.
func TestRuleTable(t *testing.T) {
	for plane, allowed := range planes {
		if fi, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(plane))); err != nil || !fi.IsDir() {
			t.Errorf("plane %s of the table is not a directory of the module", plane)
		}
		for _, a := range allowed {
			if _, ok := planes[a]; !ok {
				t.Errorf("plane %s may import %s, which is no plane of the table", plane, a)
			}
		}
	}
	for _, h := range testHarness {
		if _, ok := planes[h]; !ok {
			t.Errorf("test harness %s is no plane of the table", h)
		}
	}
	have := map[string]bool{}
	for _, p := range repoPackages(t) {
		if p.Module != nil && p.Module.Path == repoModule {
			have[relPath(repoModule, p.ImportPath)] = true
		}
	}
	for name, allow := range map[string]map[string]bool{"allowedDynamoDB": allowedDynamoDB, "allowedKMSData": allowedKMSData} {
		for rel := range allow {
			if !have[rel] {
				t.Errorf("%s names %s, which is no package of the module", name, rel)
			}
		}
	}
	for _, r := range mustNotLink {
		found := false
		for rel := range have {
			found = found || under(rel, r.binaries)
		}
		if !found {
			t.Errorf("mustNotLink: no package under %s, so the rule checks nothing", r.binaries)
		}
	}
}

// TestGuardSeesViolations proves the KMS and DynamoDB checks are not vacuous
// on the real module: they see the DynamoDB import of internal/platform/store
// and the data operations internal/platform/crypto does use. (Their
// allowlists hide both from check; here they are taken away.)
func TestGuardSeesViolations(t *testing.T) {
	var seen []string
	storeImports := false
	for _, p := range repoPackages(t) {
		rel := relPath(repoModule, p.ImportPath)
		storeImports = storeImports || (rel == "internal/platform/store" && slices.Contains(p.Imports, dynamoDBClient))
		if rel != "internal/platform/crypto" {
			continue
		}
		for _, f := range p.GoFiles {
			ops, err := kmsDataCalls(filepath.Join(p.Dir, f))
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, ops...)
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

// TestGuardCatchesPlantedViolations runs check over the fixture module in
// testdata/badplanes, where each rule has exactly the violations planted in
// it (see the comments of its files), and the clean packages have none.
func TestGuardCatchesPlantedViolations(t *testing.T) {
	vs := check(fixtureModule, fixturePackages(t))
	cases := []struct {
		rule string
		want []string // violation keys, "from -> to", sorted
	}{
		{ruleLoads, nil},
		{ruleInAPlane, []string{"internal/misc"}},
		{rulePlanes, []string{
			"functions/g -> internal/platform/clean", // a Lambda goes through wire
			"internal/app/x -> internal/control/y",   // app and control meet only in the platform
			"internal/platform/z -> internal/app/x",  // the platform imports no plane above it
			"internal/wire -> internal/local/w",      // nor does wire import the local stack
		}},
		{ruleTestPlanes, []string{"internal/control/y -> internal/app/x"}},
		{ruleLinks, []string{"functions/f -> internal/local/w"}}, // through internal/wire
		{ruleDynamoDB, []string{"internal/platform/leaky -> " + dynamoDBClient}},
		{ruleKMS, []string{"internal/platform/leaky -> kms.GenerateDataKey"}},
	}
	var rules []string
	for _, tc := range cases {
		rules = append(rules, tc.rule)
	}
	if !slices.Equal(rules, checkRules) {
		t.Fatalf("the cases cover rules %v, check runs %v", rules, checkRules)
	}
	for _, tc := range cases {
		t.Run(tc.rule, func(t *testing.T) {
			var got []string
			for _, v := range byRule(vs, tc.rule) {
				got = append(got, v.key())
				t.Log(v)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("rule %s on the fixture:\n got  %q\n want %q", tc.rule, got, tc.want)
			}
		})
	}
	for _, clean := range []string{"internal/platform/clean", "internal/platform/store", "internal/platform/crypto", "internal/local/w", "functions/f"} {
		for _, v := range vs {
			if v.from == clean && !(clean == "functions/f" && v.rule == ruleLinks) {
				t.Errorf("clean fixture package %s reported: %v", clean, v)
			}
		}
	}
	for _, v := range byRule(vs, ruleLinks) {
		if !strings.Contains(v.msg, "functions/f -> internal/wire -> internal/local/w") {
			t.Errorf("the link violation does not show the chain through internal/wire: %v", v)
		}
	}
}

// TestDocCheckCatchesMissingDocs runs the package-doc check over fixture
// packages: one with a package comment, one whose doc.go has none, one
// without doc.go.
func TestDocCheckCatchesMissingDocs(t *testing.T) {
	for _, tc := range []struct {
		rel  string
		want string // part of the message, "" for none
	}{
		{"internal/platform/clean", ""},
		{"internal/platform/z", "has no package comment"},
		{"internal/misc", "has no doc.go"},
	} {
		t.Run(tc.rel, func(t *testing.T) {
			vs := checkDoc(tc.rel, filepath.Join("testdata", "badplanes", filepath.FromSlash(tc.rel)))
			switch {
			case tc.want == "" && len(vs) > 0:
				t.Errorf("clean package reported: %v", vs)
			case tc.want != "" && (len(vs) != 1 || !strings.Contains(vs[0].msg, tc.want)):
				t.Errorf("got %v, want one violation saying %q", vs, tc.want)
			}
		})
	}
}
