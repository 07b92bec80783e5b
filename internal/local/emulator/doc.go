// Package emulator owns the local AWS stack used when there is no AWS account
// and no Docker: moto server (DynamoDB, STS, Cognito, EventBridge, SQS,
// CloudWatch, Logs, CloudFormation) and local-kms (KMS, because moto's KMS
// ignores key state). It starts both on free loopback ports, waits until they
// answer, and stops them. On request it runs DynamoDB Local (AWS's own
// engine, Java) for DynamoDB instead of moto: the flood benchmark uses it,
// because moto's server stalls every client now and then and decides a p99.
//
// The binaries come from the project's own install step (make tools):
// .venv/bin/moto_server and .local/bin/local-kms, both pinned.
//
// See https://docs.getmoto.org/en/latest/docs/server_mode.html
package emulator
