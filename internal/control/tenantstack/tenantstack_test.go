package tenantstack_test

import (
	"encoding/json"
	"regexp"
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
	// The dedicated table, and the change feed's event source mapping on its
	// stream (created only when the stack is given the function's ARN).
	types := map[string]int{}
	for _, r := range tmpl.Resources {
		types[r.Type]++
	}
	if len(tmpl.Resources) != 2 || types["AWS::DynamoDB::Table"] != 1 || types["AWS::Lambda::EventSourceMapping"] != 1 {
		t.Errorf("resources = %+v, want one table and one event source mapping", tmpl.Resources)
	}
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
