// Package emulator owns the local AWS stack used when there is no AWS account
// and no Docker: moto (DynamoDB, STS, Cognito, EventBridge, SQS, CloudWatch,
// Logs, CloudFormation) and local-kms (KMS, because moto's KMS ignores key
// state). It starts both on free loopback ports, waits until they answer, and
// stops them.
//
// moto is served by tools/moto/serve.py, not by moto_server: moto's WSGI
// application on waitress (connections kept alive, a pool of threads), with
// DynamoDB requests isolated by a readers-writer lock, SQS message changes by
// a lock, and TransactWriteItems' ClientRequestToken honoured, as in AWS.
//
// The binaries come from the project's own install step (make tools): the
// interpreter of .venv (moto and waitress pinned in requirements.txt) and
// .local/bin/local-kms.
//
// The second engine (Options.Engine or TESSERA_EMULATOR=localstack) is
// LocalStack's own runtime without Docker, from .venv-localstack: every
// service, KMS included, in one process; DynamoDB and Cognito user pools are
// moto's backends inside it, through Tessera's plugin in
// tools/localstack/plugin (see localstack.go).
//
// See https://docs.getmoto.org/en/latest/docs/server_mode.html
package emulator
