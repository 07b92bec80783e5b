// Command infra is Tessera's AWS CDK app. `cdk synth` (cdk.json: "go run
// ./infra") builds the Lambda functions and synthesizes three stacks:
//
//   - Tessera-<stage>-Data: the pooled and catalog tables, the event bus, the
//     provisioning queue and its dead-letter queue, the Cognito user pool;
//   - Tessera-<stage>-App: the Lambda functions (api, tenants, provisioner)
//     with their own least-privilege roles, TenantDataAccessRole (trusting
//     the api and provisioner roles), the REST API with the Cognito
//     authorizer on every route of route.All, one usage plan per tier, the
//     provisioner's event source on the provisioning queue, and the
//     schedule of the tenants function's outbox sweep;
//   - TenantStack: the dedicated table of one premium tenant, deployed by the
//     provisioner (never by `cdk deploy`) from the copy checked in at
//     internal/tenantstack.
//
// The stage comes from the context (-c stage=prod; cdk.json defaults to dev).
// Account and Region come from the context (-c account=... -c region=...) or
// from CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION; when neither is given the
// stacks are environment-agnostic, so synth needs no AWS credentials.
//
// Flags (for `go run ./infra`, not used by the cdk CLI):
//
//	-write-tenant-template FILE   write the TenantStack template and exit
//
// Environment: TESSERA_SKIP_BUILD=1 uses the binaries already in dist/.
//
// See https://docs.aws.amazon.com/cdk/v2/guide/work-with-cdk-go.html
package main
