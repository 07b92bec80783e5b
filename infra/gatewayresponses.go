package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/jsii-runtime-go"
	"github.com/tessera-saas/tessera/internal/platform/edge"
)

// gatewayResponse is how API Gateway answers a request it refuses itself,
// before any function runs: in the error body of every Tessera response,
// {"error":{"code":"...","message":"..."}} (internal/platform/edge.ErrorBody), with the
// codes the local gateway (internal/local/gateway) and the handlers use.
type gatewayResponse struct {
	Type responseType
	// Status replaces API Gateway's status; "" keeps it (the DEFAULT_*
	// responses cover several statuses).
	Status  string
	Code    string
	Message string
}

// responseType names an API Gateway gateway response type; responseTypes
// maps it to the CDK's value.
type responseType string

var responseTypes = map[responseType]awsapigateway.ResponseType{
	"DEFAULT_4XX":                  awsapigateway.ResponseType_DEFAULT_4XX(),
	"DEFAULT_5XX":                  awsapigateway.ResponseType_DEFAULT_5XX(),
	"UNAUTHORIZED":                 awsapigateway.ResponseType_UNAUTHORIZED(),
	"ACCESS_DENIED":                awsapigateway.ResponseType_ACCESS_DENIED(),
	"MISSING_AUTHENTICATION_TOKEN": awsapigateway.ResponseType_MISSING_AUTHENTICATION_TOKEN(),
	"INVALID_API_KEY":              awsapigateway.ResponseType_INVALID_API_KEY(),
	"THROTTLED":                    awsapigateway.ResponseType_THROTTLED(),
	"QUOTA_EXCEEDED":               awsapigateway.ResponseType_QUOTA_EXCEEDED(),
	"REQUEST_TOO_LARGE":            awsapigateway.ResponseType_REQUEST_TOO_LARGE(),
	"BAD_REQUEST_BODY":             awsapigateway.ResponseType_BAD_REQUEST_BODY(),
}

// apiErrorMessage is API Gateway's own message as a JSON string literal
// ($context.error.messageString is $context.error.message quoted).
const apiErrorMessage = "$context.error.messageString"

// gatewayResponses are the responses API Gateway sends instead of its
// default {"message": "..."} bodies. The error codes are the API contract's,
// internal/platform/edge's (CodeUnauthenticated, CodeForbidden, ...); the
// tests compare them.
var gatewayResponses = []gatewayResponse{
	// Anything not named below keeps its status and API Gateway's message.
	{Type: "DEFAULT_4XX", Code: "bad_request", Message: apiErrorMessage},
	// Integration failures and timeouts (502, 504) keep their status; what
	// failed is in the logs, not in the body.
	{Type: "DEFAULT_5XX", Code: "internal", Message: `"internal error"`},
	// An authorizer refused the ID token (missing, expired, forged): the
	// tenant authorizer's "Unauthorized", or the Cognito authorizer's.
	{Type: "UNAUTHORIZED", Status: "401", Code: "unauthenticated", Message: `"a valid ID token is required in the Authorization header"`},
	// The tenant authorizer's Deny: a tenant unknown, not active, or without
	// its API key yet.
	{Type: "ACCESS_DENIED", Status: "403", Code: "forbidden", Message: `"access denied"`},
	// A REST API answers an unknown path or method this way (403 "Missing
	// Authentication Token"); the local gateway answers 404 route_not_found.
	{Type: "MISSING_AUTHENTICATION_TOKEN", Status: "404", Code: "route_not_found", Message: `"no such route"`},
	// The key the tenant authorizer returned (apiKeySource AUTHORIZER) is
	// missing, disabled, deleted or in no usage plan of this stage.
	{Type: "INVALID_API_KEY", Status: "403", Code: "invalid_api_key", Message: `"the tenant has no valid API key"`},
	// The usage plan's (or the stage's) rate and burst, and the plan's
	// monthly quota, as the local gateway answers them (internal/local/throttle).
	{Type: "THROTTLED", Status: "429", Code: edge.CodeRateLimited, Message: `"Too Many Requests: over the request rate"`},
	{Type: "QUOTA_EXCEEDED", Status: "429", Code: edge.CodeQuotaExceeded, Message: `"the tenant has used its monthly request quota"`},
	{Type: "REQUEST_TOO_LARGE", Status: "413", Code: "body_too_large", Message: `"request body too large"`},
	// The request validator: the body is not one JSON object.
	{Type: "BAD_REQUEST_BODY", Status: "400", Code: "malformed_json", Message: `"a JSON object body is required"`},
}

// template renders the response's body mapping template: the error body
// with the message (a JSON string literal, or the quoted API Gateway
// message) in place.
func (g gatewayResponse) template() string {
	return `{"error":{"code":"` + g.Code + `","message":` + g.Message + `}}`
}

// gatewayResponseHeaders are the headers every handler answer carries
// (internal/platform/edge) and the local gateway's own errors too; API
// Gateway's answers carry them as well, as static (quoted) values.
var gatewayResponseHeaders = map[string]string{
	"Content-Type":           "application/json",
	"Cache-Control":          "no-store",
	"X-Content-Type-Options": "nosniff",
}

// addGatewayResponses gives api the gatewayResponses.
func addGatewayResponses(api awsapigateway.RestApi) {
	headers := map[string]*string{}
	for k, v := range gatewayResponseHeaders {
		headers[k] = jsii.String("'" + v + "'")
	}
	for _, g := range gatewayResponses {
		opts := &awsapigateway.GatewayResponseOptions{
			Type:            responseTypes[g.Type],
			Templates:       &map[string]*string{"application/json": jsii.String(g.template())},
			ResponseHeaders: &headers,
		}
		if g.Status != "" {
			opts.StatusCode = jsii.String(g.Status)
		}
		api.AddGatewayResponse(jsii.String("Response"+string(g.Type)), opts)
	}
}
