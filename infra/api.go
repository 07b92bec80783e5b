package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/route"
)

// restAPI is the REST API, its usage plans, and what its methods share.
type restAPI struct {
	RestAPI    awsapigateway.RestApi
	UsagePlans map[string]awsapigateway.UsagePlan
	// authorizer is the operator routes' Cognito user pool authorizer.
	authorizer awsapigateway.IAuthorizer
	validator  awsapigateway.IRequestValidator
	jsonObject awsapigateway.IModel
	stage      string
}

// tenantAuthorizerTTL is how long API Gateway caches the tenant
// authorizer's answer per Authorization header (its default, kept on: a
// token's requests skip the authorizer for that long). The local gateway's
// gateway.AuthorizerCacheTTL is the same.
const tenantAuthorizerTTL = 300 // seconds

// newRestAPI defines the REST API without its methods (addRoutes adds them,
// once the functions exist): the Cognito user pool authorizer, access logs,
// stage throttling, the gateway responses, and one usage plan per tier.
//
// Tenant routes (route.TenantUser) use the tenant authorizer, a Lambda
// REQUEST authorizer (functions/authorizer, internal/app/authorizer) that
// addRoutes defines: it verifies the ID token and returns the tenant's API
// key as the usageIdentifierKey. Operator routes (route.Operator) use the
// Cognito user pool authorizer: it proves a user of the pool, and the
// handler checks the "operators" group in the verified token (a user pool
// authorizer cannot check groups). Both functions verify the token again
// themselves, so a direct invoke with forged claims is refused.
//
// Usage plans: a usage plan only limits requests that carry an API key of
// the plan, so tenant routes require a key. The API takes it from the
// authorizer (apiKeySource AUTHORIZER), never from a client's x-api-key:
// limits follow the verified tenant, and clients never handle keys. The
// provisioner creates one key per tenant (never one per tier), binds it to
// its tier's plan (internal/control/apikey) and records its value in the
// tenant's catalog record, where the authorizer reads it; operator routes
// take no key.
//
// Body size: API Gateway REST APIs accept payloads up to 10 MB (a hard
// limit, not configurable); the api handler rejects bodies over 256 KiB
// (internal/platform/edge.MaxBodyBytes). Validation here is structural only: a JSON
// body must be an object, and path parameters must be present.
func newRestAPI(stack awscdk.Stack, cfg config, data *DataStack) restAPI {
	r := newAPI(stack, cfg, apiSpec{
		Name: "tessera-" + cfg.Stage, Description: "Tessera " + cfg.Stage + " API",
		Pool: data.UserPool, AuthorizerName: "tessera-" + cfg.Stage + "-cognito",
		// Usage plans count the key the tenant authorizer returns.
		KeySource: awsapigateway.ApiKeySourceType_AUTHORIZER,
	})
	api := r.RestAPI
	r.UsagePlans = map[string]awsapigateway.UsagePlan{}
	for _, tier := range plan.Tiers {
		l, _ := plan.For(tier)
		r.UsagePlans[string(tier)] = api.AddUsagePlan(jsii.String("UsagePlan"+title(string(tier))), &awsapigateway.UsagePlanProps{
			Name:        jsii.String("tessera-" + cfg.Stage + "-" + string(tier)),
			Description: jsii.String("Limits of the " + string(tier) + " tier; the provisioner binds each tenant's API key"),
			Throttle:    &awsapigateway.ThrottleSettings{RateLimit: jsii.Number(l.RateLimit), BurstLimit: jsii.Number(float64(l.BurstLimit))},
			Quota:       &awsapigateway.QuotaSettings{Limit: jsii.Number(float64(l.MonthlyQuota)), Period: awsapigateway.Period_MONTH},
			ApiStages:   &[]*awsapigateway.UsagePlanPerApiStage{{Api: api, Stage: api.DeploymentStage()}},
		})
	}
	return r
}

// apiSpec is what differs between the stage's REST APIs (a cell's API,
// the router's).
type apiSpec struct {
	Name, Description string
	// Pool is the user pool of the Cognito authorizer.
	Pool           awscognito.IUserPool
	AuthorizerName string
	// KeySource is where API keys come from ("": an API without keys).
	KeySource awsapigateway.ApiKeySourceType
}

// newAPI defines a REST API without methods and usage plans: access logs,
// stage throttling, the gateway responses, the Cognito user pool
// authorizer, the request validator and the JSON object model.
func newAPI(stack awscdk.Stack, cfg config, spec apiSpec) restAPI {
	accessLogs := newLogGroup(stack, "ApiAccessLogs", cfg)
	props := &awsapigateway.RestApiProps{
		RestApiName:    jsii.String(spec.Name),
		Description:    jsii.String(spec.Description),
		EndpointTypes:  &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		CloudWatchRole: jsii.Bool(true), // access logging needs the account's API Gateway CloudWatch role
		DeployOptions: &awsapigateway.StageOptions{
			StageName:            jsii.String(cfg.Stage),
			ThrottlingRateLimit:  jsii.Number(stageRateLimit),
			ThrottlingBurstLimit: jsii.Number(stageBurstLimit),
			MetricsEnabled:       jsii.Bool(true),
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(accessLogs),
			AccessLogFormat: awsapigateway.AccessLogFormat_JsonWithStandardFields(&awsapigateway.JsonWithStandardFieldProps{
				Caller: jsii.Bool(false), HttpMethod: jsii.Bool(true), Ip: jsii.Bool(true), Protocol: jsii.Bool(true),
				RequestTime: jsii.Bool(true), ResourcePath: jsii.Bool(true), ResponseLength: jsii.Bool(true),
				Status: jsii.Bool(true), User: jsii.Bool(true),
			}),
		},
	}
	if spec.KeySource != "" {
		props.ApiKeySourceType = spec.KeySource
	}
	api := awsapigateway.NewRestApi(stack, jsii.String("Api"), props)
	addGatewayResponses(api)

	r := restAPI{RestAPI: api, stage: cfg.Stage}
	r.authorizer = awsapigateway.NewCognitoUserPoolsAuthorizer(stack, jsii.String("Authorizer"), &awsapigateway.CognitoUserPoolsAuthorizerProps{
		AuthorizerName:   jsii.String(spec.AuthorizerName),
		CognitoUserPools: &[]awscognito.IUserPool{spec.Pool},
	})
	r.validator = api.AddRequestValidator(jsii.String("Validator"), &awsapigateway.RequestValidatorOptions{
		ValidateRequestBody:       jsii.Bool(true),
		ValidateRequestParameters: jsii.Bool(true),
	})
	r.jsonObject = api.AddModel(jsii.String("JsonObject"), &awsapigateway.ModelOptions{
		ContentType: jsii.String("application/json"),
		Description: jsii.String("Any JSON object"),
		Schema: &awsapigateway.JsonSchema{
			Schema: awsapigateway.JsonSchemaVersion_DRAFT4,
			Title:  jsii.String("JsonObject"),
			Type:   awsapigateway.JsonSchemaType_OBJECT,
		},
	})
	return r
}

// addRoutes defines the tenant authorizer on its function and adds one
// method per route of route.All, proxied to the route's function: tenant
// routes behind the tenant authorizer, requiring the API key it returns;
// operator routes behind the Cognito user pool authorizer; the public route
// (the OpenAPI document) with authorization NONE and no key.
func addRoutes(stack awscdk.Stack, r restAPI, fns map[route.Function]awslambda.Function) error {
	authzFn, ok := fns[functionAuthorizer]
	if !ok {
		return fmt.Errorf("function %q is not defined in infra (functionSpecs)", functionAuthorizer)
	}
	tenantAuthorizer := awsapigateway.NewRequestAuthorizer(stack, jsii.String("TenantAuthorizer"), &awsapigateway.RequestAuthorizerProps{
		AuthorizerName:  jsii.String("tessera-" + r.stage + "-tenant"),
		Handler:         authzFn,
		IdentitySources: &[]*string{awsapigateway.IdentitySource_Header(jsii.String("Authorization"))},
		ResultsCacheTtl: awscdk.Duration_Seconds(jsii.Number(tenantAuthorizerTTL)),
	})
	integrations := map[route.Function]awsapigateway.LambdaIntegration{}
	for _, rt := range route.All {
		fn, ok := fns[rt.Function]
		if !ok {
			return fmt.Errorf("route %s: function %q is not defined in infra (functionSpecs)", rt.Key(), rt.Function)
		}
		integ, ok := integrations[rt.Function]
		if !ok {
			// No test-invoke permission: one Lambda permission per method,
			// not two, keeps the function's resource policy small.
			integ = awsapigateway.NewLambdaIntegration(fn, &awsapigateway.LambdaIntegrationOptions{
				Proxy: jsii.Bool(true), AllowTestInvoke: jsii.Bool(false),
			})
			integrations[rt.Function] = integ
		}
		opts := r.methodOptions(rt)
		opts.ApiKeyRequired = jsii.Bool(rt.Audience == route.TenantUser)
		switch rt.Audience {
		case route.TenantUser:
			opts.AuthorizationType, opts.Authorizer = awsapigateway.AuthorizationType_CUSTOM, tenantAuthorizer
		case route.Public: // the API's document: no token, no key (the stage's throttling still applies)
			opts.AuthorizationType, opts.Authorizer = awsapigateway.AuthorizationType_NONE, nil
		}
		r.RestAPI.Root().ResourceForPath(jsii.String(rt.Path)).AddMethod(jsii.String(rt.Method), integ, opts)
	}
	return nil
}

// methodOptions are a route's method options behind the Cognito user pool
// authorizer: its operation name, the validator, its path parameters and,
// with a body, the JSON object model.
func (r restAPI) methodOptions(rt route.Route) *awsapigateway.MethodOptions {
	opts := &awsapigateway.MethodOptions{
		OperationName:     jsii.String(rt.Name),
		AuthorizationType: awsapigateway.AuthorizationType_COGNITO,
		Authorizer:        r.authorizer,
		RequestValidator:  r.validator,
		RequestParameters: pathParams(rt.Path),
	}
	if rt.Method == "POST" || rt.Method == "PUT" || rt.Method == "PATCH" {
		opts.RequestModels = &map[string]awsapigateway.IModel{"application/json": r.jsonObject}
	}
	return opts
}

// pathParams marks the path parameters of a template ("/v1/products/{id}")
// as required.
func pathParams(path string) *map[string]*bool {
	params := map[string]*bool{}
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			params["method.request.path."+seg[1:len(seg)-1]] = jsii.Bool(true)
		}
	}
	if len(params) == 0 {
		return nil
	}
	return &params
}
