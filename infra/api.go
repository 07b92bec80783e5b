package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/plan"
	"github.com/tessera-saas/tessera/internal/route"
)

// restAPI is the REST API and its usage plans.
type restAPI struct {
	RestAPI    awsapigateway.RestApi
	UsagePlans map[string]awsapigateway.UsagePlan
}

// newRestAPI defines the REST API: one method per route of route.All, each
// behind the Cognito user pool authorizer and proxied to the route's
// function; access logs; stage throttling; and one usage plan per tier.
//
// Operator routes (route.Operator) use the same authorizer: it proves a
// user of the pool, and the handler checks the "operators" group in the
// cognito:groups claim (a user pool authorizer cannot check groups).
//
// Usage plans: a usage plan only limits requests that carry an API key of
// the plan. The provisioner is to create one key per tenant (never one per
// tier) and attach it to its tier's plan; methods do not require keys yet
// (ApiKeyRequired), since that changes what clients send.
//
// Body size: API Gateway REST APIs accept payloads up to 10 MB (a hard
// limit, not configurable); the api handler rejects bodies over 256 KiB
// (internal/api.MaxBodyBytes). Validation here is structural only: a JSON
// body must be an object, and path parameters must be present.
func newRestAPI(stack awscdk.Stack, cfg config, data *DataStack, fns map[route.Function]awslambda.Function) (restAPI, error) {
	accessLogs := newLogGroup(stack, "ApiAccessLogs", cfg)
	api := awsapigateway.NewRestApi(stack, jsii.String("Api"), &awsapigateway.RestApiProps{
		RestApiName:    jsii.String("tessera-" + cfg.Stage),
		Description:    jsii.String("Tessera " + cfg.Stage + " API"),
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
	})

	authorizer := awsapigateway.NewCognitoUserPoolsAuthorizer(stack, jsii.String("Authorizer"), &awsapigateway.CognitoUserPoolsAuthorizerProps{
		AuthorizerName:   jsii.String("tessera-" + cfg.Stage + "-cognito"),
		CognitoUserPools: &[]awscognito.IUserPool{data.UserPool},
	})
	validator := api.AddRequestValidator(jsii.String("Validator"), &awsapigateway.RequestValidatorOptions{
		ValidateRequestBody:       jsii.Bool(true),
		ValidateRequestParameters: jsii.Bool(true),
	})
	jsonObject := api.AddModel(jsii.String("JsonObject"), &awsapigateway.ModelOptions{
		ContentType: jsii.String("application/json"),
		Description: jsii.String("Any JSON object"),
		Schema: &awsapigateway.JsonSchema{
			Schema: awsapigateway.JsonSchemaVersion_DRAFT4,
			Title:  jsii.String("JsonObject"),
			Type:   awsapigateway.JsonSchemaType_OBJECT,
		},
	})

	integrations := map[route.Function]awsapigateway.LambdaIntegration{}
	for _, r := range route.All {
		fn, ok := fns[r.Function]
		if !ok {
			return restAPI{}, fmt.Errorf("route %s: function %q is not defined in infra (functionSpecs)", r.Key(), r.Function)
		}
		integ, ok := integrations[r.Function]
		if !ok {
			// No test-invoke permission: one Lambda permission per method,
			// not two, keeps the function's resource policy small.
			integ = awsapigateway.NewLambdaIntegration(fn, &awsapigateway.LambdaIntegrationOptions{
				Proxy: jsii.Bool(true), AllowTestInvoke: jsii.Bool(false),
			})
			integrations[r.Function] = integ
		}
		opts := &awsapigateway.MethodOptions{
			OperationName:     jsii.String(r.Name),
			AuthorizationType: awsapigateway.AuthorizationType_COGNITO,
			Authorizer:        authorizer,
			RequestValidator:  validator,
			RequestParameters: pathParams(r.Path),
		}
		if r.Method == "POST" || r.Method == "PUT" || r.Method == "PATCH" {
			opts.RequestModels = &map[string]awsapigateway.IModel{"application/json": jsonObject}
		}
		api.Root().ResourceForPath(jsii.String(r.Path)).AddMethod(jsii.String(r.Method), integ, opts)
	}

	plans := map[string]awsapigateway.UsagePlan{}
	for _, tier := range plan.Tiers {
		l, _ := plan.For(tier)
		plans[string(tier)] = api.AddUsagePlan(jsii.String("UsagePlan"+title(string(tier))), &awsapigateway.UsagePlanProps{
			Name:        jsii.String("tessera-" + cfg.Stage + "-" + string(tier)),
			Description: jsii.String("Limits of the " + string(tier) + " tier; the provisioner attaches each tenant's API key"),
			Throttle:    &awsapigateway.ThrottleSettings{RateLimit: jsii.Number(l.RateLimit), BurstLimit: jsii.Number(float64(l.BurstLimit))},
			Quota:       &awsapigateway.QuotaSettings{Limit: jsii.Number(float64(l.MonthlyQuota)), Period: awsapigateway.Period_MONTH},
			ApiStages:   &[]*awsapigateway.UsagePlanPerApiStage{{Api: api, Stage: api.DeploymentStage()}},
		})
	}
	return restAPI{RestAPI: api, UsagePlans: plans}, nil
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
