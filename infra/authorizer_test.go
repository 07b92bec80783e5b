package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/platform/route"
)

// TestTenantRoutesUseTheLambdaAuthorizer checks how API keys follow the
// verified tenant (issue 11, item 1): one REQUEST authorizer, the authorizer
// function, identified by the Authorization header with its result cache on
// (300 s); the API takes the usage key from the authorizer (AUTHORIZER), not
// from the client's x-api-key; and every tenant route uses that authorizer
// and requires a key, so usage plans count what the authorizer chose.
// Operator routes keep the Cognito authorizer and take no key.
func TestTenantRoutesUseTheLambdaAuthorizer(t *testing.T) {
	s := synth(t)
	fnLogicalID := ""
	for id := range s.AppJSON.resources("AWS::Lambda::Function") {
		if strings.HasPrefix(id, fnID(functionAuthorizer)+"Function") {
			fnLogicalID = id
		}
	}
	if fnLogicalID == "" {
		t.Errorf("no %s function in the app stack", functionAuthorizer)
	}
	check(t, "RestApi ApiKeySourceType", func() {
		s.App.HasResourceProperties(jsii.String("AWS::ApiGateway::RestApi"), map[string]any{"ApiKeySourceType": "AUTHORIZER"})
	})
	var authzID string
	for id, a := range s.AppJSON.resources("AWS::ApiGateway::Authorizer") {
		p := props(a)
		if p["Type"] != "REQUEST" {
			continue
		}
		if authzID != "" {
			t.Fatalf("two REQUEST authorizers: %s and %s", authzID, id)
		}
		authzID = id
		if p["IdentitySource"] != "method.request.header.Authorization" {
			t.Errorf("IdentitySource = %v, want method.request.header.Authorization", p["IdentitySource"])
		}
		if jsonOf(p["AuthorizerResultTtlInSeconds"]) != "300" {
			t.Errorf("AuthorizerResultTtlInSeconds = %v, want 300 (the result cache on)", p["AuthorizerResultTtlInSeconds"])
		}
		if uri := jsonOf(p["AuthorizerUri"]); !strings.Contains(uri, `"`+fnLogicalID+`"`) {
			t.Errorf("AuthorizerUri does not invoke %s: %s", fnLogicalID, uri)
		}
	}
	if authzID == "" {
		t.Error("no REQUEST authorizer in the app stack")
	}

	paths := resourcePaths(t, s.AppJSON)
	got := map[string]map[string]any{}
	for _, m := range s.AppJSON.resources("AWS::ApiGateway::Method") {
		p := props(m)
		got[p["HttpMethod"].(string)+" "+paths[flatten(p["ResourceId"])]] = p
	}
	tenantRoutes := 0
	for _, r := range route.All {
		p, ok := got[r.Key()]
		if !ok {
			t.Errorf("no method for %s", r.Key())
			continue
		}
		if r.Audience == route.Public {
			if p["AuthorizationType"] != "NONE" || p["AuthorizerId"] != nil || p["ApiKeyRequired"] == true {
				t.Errorf("public route %s: AuthorizationType %v, AuthorizerId %s, ApiKeyRequired %v; want NONE, no authorizer, no key", r.Key(), p["AuthorizationType"], jsonOf(p["AuthorizerId"]), p["ApiKeyRequired"])
			}
			continue
		}
		if r.Audience != route.TenantUser {
			if p["AuthorizationType"] != "COGNITO_USER_POOLS" || p["ApiKeyRequired"] == true {
				t.Errorf("operator route %s: AuthorizationType %v, ApiKeyRequired %v; want COGNITO_USER_POOLS without a key", r.Key(), p["AuthorizationType"], p["ApiKeyRequired"])
			}
			continue
		}
		tenantRoutes++
		if p["AuthorizationType"] != "CUSTOM" {
			t.Errorf("%s: AuthorizationType = %v, want CUSTOM", r.Key(), p["AuthorizationType"])
		}
		if flatten(p["AuthorizerId"]) != "${"+authzID+"}" {
			t.Errorf("%s: AuthorizerId = %s, want the REQUEST authorizer %s", r.Key(), jsonOf(p["AuthorizerId"]), authzID)
		}
		if p["ApiKeyRequired"] != true {
			t.Errorf("%s: ApiKeyRequired = %v, want true", r.Key(), p["ApiKeyRequired"])
		}
	}
	if tenantRoutes == 0 {
		t.Fatal("route.All has no tenant route: the test checks nothing")
	}
	// API Gateway may invoke the authorizer function.
	check(t, "authorizer invoke permission", func() {
		s.App.HasResourceProperties(jsii.String("AWS::Lambda::Permission"), map[string]any{
			"Action":       "lambda:InvokeFunction",
			"FunctionName": assertions.Match_ObjectLike(&map[string]any{"Fn::GetAtt": []any{fnLogicalID, "Arn"}}),
			"Principal":    "apigateway.amazonaws.com",
		})
	})
}
