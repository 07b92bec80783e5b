package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/settings"
)

// TestEveryRouteHasItsAuthorizer checks that the API has exactly the
// methods of route.All, each proxied to its route's function, the operator
// routes behind the Cognito authorizer and the tenant routes behind the
// tenant authorizer (TestTenantRoutesUseTheLambdaAuthorizer checks that
// one).
func TestEveryRouteHasItsAuthorizer(t *testing.T) {
	s := synth(t)
	check(t, "ResourceCountIs", func() {
		s.App.ResourceCountIs(jsii.String("AWS::ApiGateway::Method"), jsii.Number(len(route.All)))
	})
	check(t, "AllResourcesProperties", func() {
		s.App.AllResourcesProperties(jsii.String("AWS::ApiGateway::Method"), map[string]any{
			"Integration": assertions.Match_ObjectLike(&map[string]any{"Type": "AWS_PROXY"}),
		})
	})
	check(t, "HasResourceProperties", func() {
		s.App.HasResourceProperties(jsii.String("AWS::ApiGateway::Authorizer"), map[string]any{
			"Type":           "COGNITO_USER_POOLS",
			"IdentitySource": "method.request.header.Authorization",
		})
	})

	paths := resourcePaths(t, s.AppJSON)
	got := map[string]map[string]any{}
	for _, m := range s.AppJSON.resources("AWS::ApiGateway::Method") {
		p := props(m)
		key := p["HttpMethod"].(string) + " " + paths[flatten(p["ResourceId"])]
		if _, dup := got[key]; dup {
			t.Errorf("two methods for %s", key)
		}
		got[key] = p
	}
	for _, r := range route.All {
		t.Run(r.Name, func(t *testing.T) {
			p, ok := got[r.Key()]
			if !ok {
				t.Fatalf("no method for %s; methods: %v", r.Key(), keys(got))
			}
			want := map[route.Audience]string{route.TenantUser: "CUSTOM", route.Operator: "COGNITO_USER_POOLS", route.Public: "NONE"}[r.Audience]
			if p["AuthorizationType"] != want {
				t.Errorf("AuthorizationType = %v, want %s", p["AuthorizationType"], want)
			}
			if r.Audience == route.Operator && !strings.HasPrefix(flatten(p["AuthorizerId"]), "${Authorizer") {
				t.Errorf("AuthorizerId = %s, want the Cognito authorizer", jsonOf(p["AuthorizerId"]))
			}
			if r.Audience == route.Public && (p["AuthorizerId"] != nil || p["ApiKeyRequired"] == true) {
				t.Errorf("public route: AuthorizerId = %s, ApiKeyRequired = %v; want neither", jsonOf(p["AuthorizerId"]), p["ApiKeyRequired"])
			}
			fnID := s.AppJSON.logicalID(t, "AWS::Lambda::Function", fnID(r.Function)+"Function")
			if uri := jsonOf(p["Integration"]); !strings.Contains(uri, `"`+fnID+`"`) {
				t.Errorf("integration does not invoke %s: %s", fnID, uri)
			}
			if p["OperationName"] != r.Name {
				t.Errorf("OperationName = %v, want %s", p["OperationName"], r.Name)
			}
		})
	}
	if len(got) != len(route.All) {
		t.Errorf("API has %d methods, route.All %d: %v", len(got), len(route.All), keys(got))
	}
}

// resourcePaths maps each API resource reference ("${Id}", and the root)
// to its full path.
func resourcePaths(t *testing.T, tmpl cfnTemplate) map[string]string {
	t.Helper()
	apiID := tmpl.logicalID(t, "AWS::ApiGateway::RestApi", "Api")
	root := "${" + apiID + ".RootResourceId}"
	res := tmpl.resources("AWS::ApiGateway::Resource")
	paths := map[string]string{root: ""}
	var resolve func(ref string) string
	resolve = func(ref string) string {
		if p, ok := paths[ref]; ok {
			return p
		}
		r, ok := res[strings.TrimSuffix(strings.TrimPrefix(ref, "${"), "}")]
		if !ok {
			t.Fatalf("unknown API resource %s", ref)
		}
		p := resolve(flatten(props(r)["ParentId"])) + "/" + props(r)["PathPart"].(string)
		paths[ref] = p
		return p
	}
	for id := range res {
		resolve("${" + id + "}")
	}
	paths[root] = "/"
	return paths
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestAPIStage(t *testing.T) {
	s := synth(t)
	check(t, "HasResourceProperties", func() {
		s.App.HasResourceProperties(jsii.String("AWS::ApiGateway::Stage"), map[string]any{
			"StageName":        testStage,
			"AccessLogSetting": assertions.Match_ObjectLike(&map[string]any{"DestinationArn": assertions.Match_AnyValue()}),
			"MethodSettings": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"HttpMethod":           "*",
				"ResourcePath":         "/*",
				"ThrottlingRateLimit":  stageRateLimit,
				"ThrottlingBurstLimit": stageBurstLimit,
			})}),
		})
	})
	check(t, "HasResourceProperties", func() {
		s.App.HasResourceProperties(jsii.String("AWS::ApiGateway::RequestValidator"), map[string]any{
			"ValidateRequestBody": true, "ValidateRequestParameters": true,
		})
	})
}

func TestUsagePlansPerTier(t *testing.T) {
	s := synth(t)
	check(t, "ResourceCountIs", func() {
		s.App.ResourceCountIs(jsii.String("AWS::ApiGateway::UsagePlan"), jsii.Number(len(plan.Tiers)))
	})
	for _, tier := range plan.Tiers {
		l, _ := plan.For(tier)
		t.Run(string(tier), func(t *testing.T) {
			check(t, "HasResourceProperties", func() {
				s.App.HasResourceProperties(jsii.String("AWS::ApiGateway::UsagePlan"), map[string]any{
					"UsagePlanName": "tessera-" + testStage + "-" + string(tier),
					"Throttle":      map[string]any{"RateLimit": l.RateLimit, "BurstLimit": l.BurstLimit},
					"Quota":         map[string]any{"Limit": l.MonthlyQuota, "Period": "MONTH"},
					"ApiStages":     assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{"Stage": assertions.Match_AnyValue()})}),
				})
			})
		})
	}
}

// TestFunctions checks every function's runtime, log group and environment:
// exactly the settings its spec lists.
func TestFunctions(t *testing.T) {
	s := synth(t)
	for _, spec := range functionSpecs {
		t.Run(string(spec.Name), func(t *testing.T) {
			id := s.AppJSON.logicalID(t, "AWS::Lambda::Function", fnID(spec.Name)+"Function")
			p := props(s.AppJSON.resources("AWS::Lambda::Function")[id])
			for k, want := range map[string]any{
				"Runtime": "provided.al2023", "Architectures": []any{"arm64"}, "Handler": "bootstrap",
				"Timeout": spec.Timeout.Seconds(), "MemorySize": spec.MemoryMB,
			} {
				if jsonOf(p[k]) != jsonOf(want) {
					t.Errorf("%s = %s, want %s", k, jsonOf(p[k]), jsonOf(want))
				}
			}
			if lc, _ := p["LoggingConfig"].(map[string]any); lc["LogGroup"] == nil {
				t.Errorf("LoggingConfig = %s, want a log group", jsonOf(p["LoggingConfig"]))
			}
			env, _ := p["Environment"].(map[string]any)
			vars, _ := env["Variables"].(map[string]any)
			want := slices.Clone(spec.Env)
			slices.Sort(want)
			if got := keys(vars); !slices.Equal(got, want) {
				t.Errorf("environment %v, want %v", got, want)
			}
			if v, ok := vars[settings.EnvStage]; ok && v != testStage {
				t.Errorf("%s = %v, want %s", settings.EnvStage, v, testStage)
			}
			if v, ok := vars[settings.EnvKeyAdminRoleARN]; ok {
				roleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", fnID(spec.Name)+"FunctionRole")
				if jsonOf(v) != jsonOf(getAttArn(roleID)) {
					t.Errorf("%s = %s, want the function's own role %s", settings.EnvKeyAdminRoleARN, jsonOf(v), roleID)
				}
			}
		})
	}
	check(t, "AllResourcesProperties", func() {
		s.App.AllResourcesProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{
			"RetentionInDays": assertions.Match_AnyValue(),
		})
	})
}
