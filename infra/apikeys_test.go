package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/settings"
)

const apigatewayArn = arnPrefix + "apigateway:${AWS::Region}::"

// usagePlanIDs maps each tier to the logical id of its usage plan.
func usagePlanIDs(t *testing.T, s *synthesized) map[string]string {
	t.Helper()
	out := map[string]string{}
	for id, p := range s.AppJSON.resources("AWS::ApiGateway::UsagePlan") {
		for _, tier := range plan.Tiers {
			if props(p)["UsagePlanName"] == "tessera-"+testStage+"-"+string(tier) {
				out[string(tier)] = id
			}
		}
	}
	if len(out) != len(plan.Tiers) {
		t.Fatalf("usage plans by tier = %v, want one per tier of %v", out, plan.Tiers)
	}
	return out
}

// TestTenantRoutesRequireAPIKey checks that every tenant route requires an
// API key (so the key's usage plan limits the tenant) and that no operator
// route does.
func TestTenantRoutesRequireAPIKey(t *testing.T) {
	s := synth(t)
	paths := resourcePaths(t, s.AppJSON)
	got := map[string]any{}
	for _, m := range s.AppJSON.resources("AWS::ApiGateway::Method") {
		p := props(m)
		got[p["HttpMethod"].(string)+" "+paths[flatten(p["ResourceId"])]] = p["ApiKeyRequired"]
	}
	var tenantRoutes int
	for _, r := range route.All {
		want := r.Audience == route.TenantUser
		if want {
			tenantRoutes++
		}
		if got[r.Key()] != want {
			t.Errorf("%s (%s): ApiKeyRequired = %v, want %v", r.Key(), r.Audience, got[r.Key()], want)
		}
	}
	if tenantRoutes == 0 {
		t.Fatal("route.All has no tenant route: the test checks nothing")
	}
}

// TestProvisionerAPIKeyPermissions checks the API Gateway permissions: only
// the provisioner has any, exactly what internal/control/apikey calls, on API keys
// and on the keys of this deployment's usage plans, tagging only with
// tenantId; and that it gets each tier's usage plan id.
func TestProvisionerAPIKeyPermissions(t *testing.T) {
	s := synth(t)
	plans := usagePlanIDs(t, s)
	want := map[string][]string{
		apigatewayArn + "/apikeys":   {"apigateway:GET", "apigateway:POST"},
		apigatewayArn + "/apikeys/*": {"apigateway:DELETE", "apigateway:GET"},
		apigatewayArn + "/tags/*":    {"apigateway:PUT"},
	}
	for _, tier := range plan.Tiers {
		planPath := apigatewayArn + "/usageplans/${" + plans[string(tier)] + "}/keys"
		want[planPath] = []string{"apigateway:GET", "apigateway:POST"}
		want[planPath+"/*"] = []string{"apigateway:DELETE", "apigateway:GET"}
	}
	tagCondition := jsonOf(map[string]any{
		"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": []string{access.TenantTag}},
		"StringLike":                map[string]any{"aws:RequestTag/" + access.TenantTag: []string{"?*"}},
	})

	for _, spec := range functionSpecs {
		t.Run(string(spec.Name), func(t *testing.T) {
			got := map[string][]string{}
			for i, st := range grantedStatements(s, t, spec.Name, "apigateway:") {
				actions := strs(st["Action"])
				for _, a := range actions {
					if strings.Contains(a, "*") {
						t.Errorf("statement %d grants the wildcard action %s", i, a)
					}
				}
				res := resourcesOf(st)
				isTags := slices.ContainsFunc(res, func(r string) bool { return strings.HasSuffix(r, "/tags/*") })
				if isTags {
					if len(res) != 1 {
						t.Errorf("statement %d mixes tags with other resources: %v", i, res)
					}
					if c := jsonOf(normConditionLists(st["Condition"])); c != tagCondition {
						t.Errorf("tagging statement %d: Condition = %s, want %s", i, c, tagCondition)
					}
				} else if st["Condition"] != nil {
					t.Errorf("statement %d has an unexpected condition: %s", i, jsonOf(st["Condition"]))
				}
				for _, r := range res {
					got[r] = append(got[r], actions...)
				}
			}
			for r := range got {
				got[r] = sorted(got[r])
			}
			wantHere := map[string][]string{}
			if spec.Provisioner {
				wantHere = want
			}
			if jsonOf(got) != jsonOf(wantHere) {
				t.Errorf("API Gateway permissions\n got  %s\n want %s", jsonOf(got), jsonOf(wantHere))
			}

			// Each tier's usage plan id, for the provisioner only.
			vars := functionVars(t, s, spec.Name)
			for _, tier := range plan.Tiers {
				name := settings.TierEnv(settings.EnvUsagePlanPrefix, tier)
				v, ok := vars[name]
				if ok != spec.Provisioner {
					t.Errorf("%s set: %v, want %v", name, ok, spec.Provisioner)
				}
				if ok && jsonOf(v) != jsonOf(ref(plans[string(tier)])) {
					t.Errorf("%s = %s, want the %s usage plan %s", name, jsonOf(v), tier, plans[string(tier)])
				}
			}
		})
	}
}

// functionVars returns a function's environment variables.
func functionVars(t *testing.T, s *synthesized, fn route.Function) map[string]any {
	t.Helper()
	id := s.AppJSON.logicalID(t, "AWS::Lambda::Function", fnID(fn)+"Function")
	env, _ := props(s.AppJSON.resources("AWS::Lambda::Function")[id])["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	return vars
}
