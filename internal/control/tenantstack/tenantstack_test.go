package tenantstack_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"testing"

	"github.com/tessera-saas/tessera/internal/control/tenantstack"
)

// TestTemplateNames checks that the checked-in template declares the
// parameters and outputs this package names. (infra's tests check that it
// is a fresh synth.)
func TestTemplateNames(t *testing.T) {
	var tmpl struct {
		Parameters map[string]struct {
			Type           string
			AllowedPattern string
		}
		Outputs   map[string]any
		Resources map[string]struct{ Type string }
	}
	if err := json.Unmarshal(tenantstack.Template(), &tmpl); err != nil {
		t.Fatalf("parse template: %v", err)
	}
	for _, p := range []string{tenantstack.ParamStage, tenantstack.ParamTenantID, tenantstack.ParamKeyArn,
		tenantstack.ParamChangeFeedFunctionArn, tenantstack.ParamChangeFeedDLQArn} {
		if tmpl.Parameters[p].Type != "String" {
			t.Errorf("parameter %s: %+v", p, tmpl.Parameters[p])
		}
	}
	if got := tmpl.Parameters[tenantstack.ParamTenantID].AllowedPattern; got != tenantstack.TenantIDPattern {
		t.Errorf("TenantId AllowedPattern = %q, want %q", got, tenantstack.TenantIDPattern)
	}
	if got := tmpl.Parameters[tenantstack.ParamStage].AllowedPattern; got != tenantstack.StagePattern {
		t.Errorf("Stage AllowedPattern = %q, want %q", got, tenantstack.StagePattern)
	}
	for _, o := range []string{tenantstack.OutputTableName, tenantstack.OutputTableArn} {
		if tmpl.Outputs[o] == nil {
			t.Errorf("output %s missing", o)
		}
	}
	// The dedicated table, the change feed's event source mapping on its
	// stream (created only when the stack is given the function's ARN),
	// and the table's two throttling alarms.
	types := map[string]int{}
	for _, r := range tmpl.Resources {
		types[r.Type]++
	}
	if len(tmpl.Resources) != 4 || types["AWS::DynamoDB::Table"] != 1 || types["AWS::Lambda::EventSourceMapping"] != 1 || types["AWS::CloudWatch::Alarm"] != 2 {
		t.Errorf("resources = %+v, want one table, one event source mapping and two alarms", tmpl.Resources)
	}
	if tmpl.Outputs[tenantstack.OutputTemplateVersion] == nil {
		t.Errorf("output %s missing", tenantstack.OutputTemplateVersion)
	}
}

// TestVersions: the checked-in template records its version (Metadata and
// output agree), the previous one is older, and a template without a
// version is refused.
func TestVersions(t *testing.T) {
	re := regexp.MustCompile(tenantstack.VersionPattern)
	v, prev := tenantstack.Version(), tenantstack.PreviousVersion()
	if !re.MatchString(v) || !re.MatchString(prev) {
		t.Fatalf("versions %q and %q, want %s", v, prev, tenantstack.VersionPattern)
	}
	if n, p := atoi(t, v), atoi(t, prev); n <= p {
		t.Fatalf("Version %s is not newer than PreviousVersion %s: bump infra's tenantStackVersion", v, prev)
	}
	if got, err := tenantstack.VersionOf(tenantstack.Template()); err != nil || got != v {
		t.Fatalf("VersionOf(Template()) = %q, %v", got, err)
	}
	// The previous template is version 1's, from before versions were
	// recorded; once it is a later one, it records its own.
	if _, err := tenantstack.VersionOf(tenantstack.PreviousTemplate()); prev == tenantstack.FirstVersion && !errors.Is(err, tenantstack.ErrNoVersion) {
		t.Fatalf("VersionOf(PreviousTemplate()) = %v, want ErrNoVersion for version %s", err, tenantstack.FirstVersion)
	}
	for name, body := range map[string]string{
		"no metadata":       `{"Resources": {}}`,
		"no version":        `{"Metadata": {"Tessera": {}}}`,
		"not a number":      `{"Metadata": {"Tessera": {"TemplateVersion": "two"}}, "Outputs": {"TemplateVersion": {"Value": "two"}}}`,
		"a number, no text": `{"Metadata": {"Tessera": {"TemplateVersion": 2}}, "Outputs": {"TemplateVersion": {"Value": 2}}}`,
		"no output":         `{"Metadata": {"Tessera": {"TemplateVersion": "2"}}}`,
		"another output":    `{"Metadata": {"Tessera": {"TemplateVersion": "2"}}, "Outputs": {"TemplateVersion": {"Value": "3"}}}`,
		"not JSON":          `Metadata: {}`,
	} {
		if got, err := tenantstack.VersionOf([]byte(body)); err == nil {
			t.Errorf("%s: VersionOf = %q, want an error", name, got)
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTenantStackUpdateKeepsTheTable: the update from the previous
// template changes nothing of the table's resource (nor of the change
// feed's mapping), so CloudFormation updates the stack in place: it adds
// resources and tags the table, never replaces it. Both emulators depend on
// it too: moto's CloudFormation cannot update an AWS::DynamoDB::Table (a
// change to it breaks the stack: DescribeStacks answers 500 from then on)
// and LocalStack's skips table updates. A version that must change the
// table: check each changed property's update behaviour in the
// AWS::DynamoDB::Table reference (never TableName, KeySchema, key
// AttributeDefinitions or LocalSecondaryIndexes: they replace the table,
// and its items with it), test the update on AWS, and say so here.
//
// And every parameter of the previous template is still declared with the
// same constraints (Update keeps their values); a new one has a default.
func TestTenantStackUpdateKeepsTheTable(t *testing.T) {
	type tmpl struct {
		Parameters map[string]map[string]any
		Resources  map[string]json.RawMessage
		Outputs    map[string]json.RawMessage
	}
	parse := func(name string, body []byte) tmpl {
		var x tmpl
		if err := json.Unmarshal(body, &x); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return x
	}
	prev, cur := parse("previous", tenantstack.PreviousTemplate()), parse("current", tenantstack.Template())
	for id, r := range prev.Resources {
		var typ struct{ Type string }
		if err := json.Unmarshal(r, &typ); err != nil {
			t.Fatal(err)
		}
		got, ok := cur.Resources[id]
		if !ok {
			t.Errorf("resource %s (%s) of version %s is gone: CloudFormation would delete it", id, typ.Type, tenantstack.PreviousVersion())
			continue
		}
		if !jsonEqual(t, r, got) && (typ.Type == "AWS::DynamoDB::Table" || typ.Type == "AWS::Lambda::EventSourceMapping") {
			t.Errorf("resource %s (%s) differs between versions %s and %s:\n%s\n%s", id, typ.Type, tenantstack.PreviousVersion(), tenantstack.Version(), r, got)
		}
	}
	for _, o := range []string{tenantstack.OutputTableName, tenantstack.OutputTableArn} {
		if !jsonEqual(t, prev.Outputs[o], cur.Outputs[o]) {
			t.Errorf("output %s differs between versions", o)
		}
	}
	for name, p := range prev.Parameters {
		c, ok := cur.Parameters[name]
		if !ok {
			t.Errorf("parameter %s is gone", name)
			continue
		}
		for _, k := range []string{"Type", "AllowedPattern", "Default"} {
			if fmt.Sprint(p[k]) != fmt.Sprint(c[k]) {
				t.Errorf("parameter %s: %s %v, was %v (the stacks' values must still hold)", name, k, c[k], p[k])
			}
		}
	}
	for name, c := range cur.Parameters {
		if _, ok := prev.Parameters[name]; !ok && c["Default"] == nil {
			t.Errorf("new parameter %s has no default: Update cannot give it a value", name)
		}
	}
}

func jsonEqual(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

func TestTenantIDPattern(t *testing.T) {
	re := regexp.MustCompile(tenantstack.TenantIDPattern)
	for id, want := range map[string]bool{
		"t-demo": true, "t-01hxyz": true, "ab": true,
		"a": false, "-ab": false, "T-demo": false, "t#x": false, "t*": false, "t?": false, "t_x": false,
		"a234567890123456789012345678901234567890123456789012345678901234": false, // 64 characters
	} {
		if got := re.MatchString(id); got != want {
			t.Errorf("%q matches = %v, want %v", id, got, want)
		}
	}
}

func TestStagePattern(t *testing.T) {
	re := regexp.MustCompile(tenantstack.StagePattern)
	for stage, want := range map[string]bool{
		"local": true, "dev": true, "prod": true, "s1": true, "abcdefghijkl": true,
		"": false, "Dev": false, "dev-1": false, "1dev": false, "abcdefghijklm": false,
	} {
		if got := re.MatchString(stage); got != want {
			t.Errorf("%q matches = %v, want %v", stage, got, want)
		}
	}
}
