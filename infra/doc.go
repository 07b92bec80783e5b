// Command infra is Tessera's AWS CDK app, a Go module of its own (so that the
// Lambda module at the repository root has no CDK dependency). `cdk synth`
// (cdk.json: "go run -C infra .") builds the Lambda functions and
// synthesizes four stacks:
//
//   - Tessera-<stage>-Data: the pooled table (with a stream, new and old
//     images, for the change feed) and the catalog table, the event bus, the
//     provisioning queue and its dead-letter queue, the Cognito user pool,
//     the export bucket (objects expire after 7 days) and one export queue
//     per tier, each with its dead-letter queue, the backup bucket (tenant
//     change logs and snapshots: versioned, SSE-KMS uploads only, kept per
//     tier by lifecycle rules from internal/platform/retention) with its
//     replication to the DR stack, the backup schedule (a BackupsDue event
//     to the provisioning queue every 15 minutes) and the change feed's
//     dead-letter queue;
//   - Tessera-<stage>-DR, in the DR Region (context drRegion; drRegion=none
//     leaves it out): the replica bucket of the backup bucket and the key
//     its replicas are encrypted under (dr.go); deployed before the Data
//     stack;
//   - Tessera-<stage>-App: the Lambda functions (api, tenants, provisioner,
//     exports, changefeed) with their own least-privilege roles,
//     TenantDataAccessRole (trusting the api, tenants, provisioner, exports
//     and changefeed roles), the REST API with
//     an authorizer on every route of route.All (the tenant authorizer and
//     the tenant's API key on tenant routes, the Cognito authorizer on
//     operator routes; none on the public OpenAPI document), JSON gateway
//     responses, one usage plan
//     per tier, the provisioner's event source on the provisioning queue,
//     the export worker's event source on each tier queue (concurrency from
//     internal/platform/plan), the change feed's event source on the pooled
//     table's stream, the schedule of the tenants function's outbox sweep,
//     and the dashboard tessera-<stage> with Contributor Insights rules for
//     the top tenants by requests and capacity;
//   - TenantStack: the dedicated table of one premium tenant, with a stream
//     and, when the parameters ChangeFeedFunctionArn and ChangeFeedDLQArn
//     are set, its event source mapping to the changefeed function; deployed
//     by the provisioner (never by `cdk deploy`) from the copy checked in at
//     internal/control/tenantstack.
//
// A multi-cell stage (context cells, routerAccount, routerRegion; then
// userPoolId and appClientId, cells.go) is instead Tessera-<stage>-Router in
// the router account (the global user pool, the cell directory, the router
// function and its API from route.Router, one users role per cell) and per
// cell Tessera-<stage>-<cell>-Data and -App in the cell's account, which
// import the global pool, and -DR in the cell's account and the DR Region;
// and TenantStack.
//
// The stage comes from the context (-c stage=prod; cdk.json defaults to dev).
// Account and Region come from the context (-c account=... -c region=...) or
// from CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION; when neither is given the
// stacks are environment-agnostic, so synth needs no AWS credentials.
//
// Relative paths (the flag's, the cdk CLI's CDK_OUTDIR) are resolved against
// the repository root, the directory above with go.mod and cdk.json, so they
// mean the same whether the app is started there or in infra/.
//
// Flags (for `go run -C infra .`, not used by the cdk CLI):
//
//	-write-tenant-template FILE   write the TenantStack template and exit
//
// Environment: TESSERA_SKIP_BUILD=1 uses the binaries already in dist/.
//
// See https://docs.aws.amazon.com/cdk/v2/guide/work-with-cdk-go.html
package main
