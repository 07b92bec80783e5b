// Package route owns Tessera's route table: the one list of HTTP routes that
// the API Gateway definition in infra/ and the local gateway in
// internal/local/gateway are both generated from, so the two cannot drift.
//
// See https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
package route
