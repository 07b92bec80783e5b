package main

import (
	"time"

	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/settings"
)

// Functions that serve no route.
const (
	functionProvisioner route.Function = "provisioner"
	functionExports     route.Function = "exports"
	// functionAuthorizer is the tenant routes' Lambda REQUEST authorizer.
	functionAuthorizer route.Function = "authorizer"
	// functionChangeFeed consumes the tables' streams (the tenant change
	// feed, internal/control/changefeed).
	functionChangeFeed route.Function = "changefeed"
)

// provisionerTimeout bounds one provisioner run. A premium tenant's stack is
// never waited for in a run: the provisioner re-checks it with a delayed
// message to its own queue. The provisioning queue's visibility timeout is
// visibilityFactor times this.
const provisionerTimeout = 5 * time.Minute

// exportsTimeout bounds one export (one message: batch size 1), the most
// Lambda allows. The worker's lease on a RUNNING export ends with the
// invocation, so a redelivered message may take it over after that.
const exportsTimeout = 15 * time.Minute

// visibilityFactor: AWS recommends a queue visibility timeout of at least
// six times the timeout of the function consuming the queue, so that a
// message is not redelivered while a slow (or retried) batch still runs. The
// provisioning and export queues both use it.
const visibilityFactor = 6

// catalogAccess is what a function may do with the catalog table's items;
// the zero value is nothing.
type catalogAccess int

const (
	// catalogRead: tenant records read by key (GetItem).
	catalogRead catalogAccess = iota + 1
	// catalogReadWrite: the item actions of store.Catalog on the table
	// (TransactWriteItems is authorized item by item).
	catalogReadWrite
	// catalogReadWriteList: catalogReadWrite, and Query on the list index.
	catalogReadWriteList
	// catalogReadList: catalogRead, and Query on the list index (the
	// billing function lists the tenants, and writes no record).
	catalogReadList
)

// functionSpec describes one Lambda function under functions/<Name>.
type functionSpec struct {
	Name        route.Function
	Description string
	MemoryMB    float64
	Timeout     time.Duration
	// Env lists the settings (internal/platform/settings) the function reads.
	Env []string
	// TenantData marks a function that works on tenant data: its role may
	// assume TenantDataAccessRole (tagged), and TenantDataAccessRole trusts
	// it. Never an item action of its own on the pooled table.
	TenantData bool
	// Catalog is its access to the catalog table's items.
	Catalog catalogAccess
	// PutEvents lets it publish to the event bus.
	PutEvents bool
	// UserPoolActions are the Cognito actions it may call on the user pool.
	UserPoolActions []string
	// Provisioner marks the provisioning function: it consumes the
	// provisioning queue and manages tenant keys, users, stacks and API
	// keys (bound to the usage plans).
	Provisioner bool
	// UsageLedger lets it write the usage ledger: PutItem on the catalog
	// items whose partition key starts with store.UsagePrefix, and no other.
	UsageLedger bool
	// RequestsExports lets it send to the tier export queues.
	RequestsExports bool
	// RunsExports marks the export worker: it consumes the tier export
	// queues.
	RunsExports bool
	// ChangeFeed marks the change feed: it consumes the pooled table's
	// stream and the dedicated tables' streams (their TenantStack
	// mappings). Lambda reads a stream with the function's own role, so
	// its role, alone of all, may read stream records (changeFeedStreamActions),
	// and only the streams of this stage's tables; it writes them to the
	// backup bucket only in each tenant's TenantDataAccessRole session.
	ChangeFeed bool
	// ReadsFlags lets it Query the catalog's feature flag definitions
	// (store.FlagsPartition) and nothing else of the catalog beyond what
	// Catalog grants: it evaluates flags (internal/platform/features).
	ReadsFlags bool
	// Fleet marks the fleet runner (fleet.go): the fleet state machine
	// invokes it, and it may update this stage's TenantStacks (grantFleet).
	Fleet bool
	// Billing marks the billing function (billing.go): an hourly schedule
	// runs it; it reads and writes the usage ledger and reads the Stripe
	// key (grantBilling).
	Billing bool
}

// tierEnv lists the per-tier variables under prefix (settings.TierEnv), in
// plan.Tiers order.
func tierEnv(prefix string) []string {
	out := make([]string, len(plan.Tiers))
	for i, t := range plan.Tiers {
		out[i] = settings.TierEnv(prefix, t)
	}
	return out
}

// functionSpecs are the deployed functions. Every function a route of
// route.All names must be here (NewAppStack fails otherwise).
var functionSpecs = []functionSpec{
	{
		Name:        route.FunctionAPI,
		Description: "Tessera tenant API (products, orders, users)",
		MemoryMB:    512,
		// API Gateway gives up after 29 s; the function should give up first.
		Timeout: 20 * time.Second,
		Env: append([]string{
			settings.EnvStage, settings.EnvPooledTable, settings.EnvCatalogTable, settings.EnvDataAccessRoleARN,
			settings.EnvEventBus, settings.EnvUserPoolID, settings.EnvAppClientID,
			settings.EnvCursorSecretARN, // list cursors
		}, tierEnv(settings.EnvExportQueuePrefix)...),
		TenantData: true,
		Catalog:    catalogRead,
		// Tenant admins invite users (directory.Create: AdminCreateUser,
		// and AdminGetUser when the user exists).
		UserPoolActions: directory.InviterActions,
		// Each process flushes its per-tenant usage totals (store.Ledger).
		UsageLedger: true,
		// Export requests go to the queue of the tenant's tier.
		RequestsExports: true,
		// Entitlements and GET /v1/features evaluate feature flags.
		ReadsFlags: true,
	},
	{
		Name:        route.FunctionTenants,
		Description: "Tessera operator API (tenants, backups and restores) and outbox sweep",
		MemoryMB:    256,
		Timeout:     20 * time.Second,
		Env: []string{
			settings.EnvStage, settings.EnvCatalogTable, settings.EnvEventBus, settings.EnvUserPoolID,
			settings.EnvAppClientID,     // it verifies operators' ID tokens itself
			settings.EnvCursorSecretARN, // list cursors
			// A tenant's snapshots (GET backups, and the check that a
			// restore has one to start from) are read in the tenant's
			// TenantDataAccessRole session.
			settings.EnvDataAccessRoleARN, settings.EnvBackupBucket,
		},
		// Its own reads of the backup bucket: snapshot manifests, in
		// tenant sessions only. It never reads or writes tenant items.
		TenantData: true,
		Catalog:    catalogReadWriteList,
		PutEvents:  true,
	},
	{
		Name:        functionAuthorizer,
		Description: "Tessera tenant authorizer: verifies the ID token, returns the tenant's API key as the usage identifier",
		MemoryMB:    256,
		// API Gateway waits at most 30 s for an authorizer; a warm call
		// takes a catalog read (cached) and a cached token check.
		Timeout: 10 * time.Second,
		Env: []string{
			settings.EnvStage, settings.EnvCatalogTable, settings.EnvUserPoolID, settings.EnvAppClientID,
		},
		// Tenant records by key (their API key among them), nothing else.
		Catalog: catalogRead,
	},
	{
		Name:        functionProvisioner,
		Description: "Tessera provisioner: tenant onboarding, offboarding, backups and restores from the provisioning queue",
		MemoryMB:    256,
		Timeout:     provisionerTimeout,
		Env: append([]string{
			settings.EnvStage, settings.EnvPooledTable, settings.EnvCatalogTable, settings.EnvDataAccessRoleARN,
			settings.EnvEventBus, settings.EnvUserPoolID, settings.EnvProvisioningQueue,
			// Principals of the tenant key policies (access.TenantKeyPolicy).
			settings.EnvPartition, settings.EnvAccountID, settings.EnvKeyAdminRoleARN,
			settings.EnvCursorSecretARN, // its store follows list cursors
			// Snapshots and restores (internal/control/backup), read and
			// written in each tenant's TenantDataAccessRole session.
			settings.EnvBackupBucket,
			// Each TenantStack's mapping from its table's stream to the
			// change feed (grantChangeFeedMappings).
			settings.EnvChangeFeedFunctionARN, settings.EnvChangeFeedDLQARN,
		}, tierEnv(settings.EnvUsagePlanPrefix)...), // each tenant's API key goes into its tier's plan
		TenantData: true,
		// The backup schedule lists the tenants (the catalog's list index).
		Catalog:         catalogReadWriteList,
		PutEvents:       true,
		UserPoolActions: directory.ManagerActions, // onboarding's admin, offboarding's deletions
		Provisioner:     true,
	},
	{
		Name:        functionExports,
		Description: "Tessera export worker: tenant data exports from the tier export queues",
		// More memory is more CPU: decryption and the upload's parts.
		MemoryMB: 512,
		Timeout:  exportsTimeout,
		Env: []string{
			settings.EnvStage, settings.EnvPooledTable, settings.EnvCatalogTable, settings.EnvDataAccessRoleARN,
			settings.EnvExportBucket, settings.EnvCursorSecretARN, // its store follows list cursors
		},
		// Reads and writes a tenant's items and export objects only in
		// that tenant's TenantDataAccessRole session.
		TenantData:  true,
		Catalog:     catalogRead,
		RunsExports: true,
	},
	{
		Name:        functionChangeFeed,
		Description: "Tessera change feed: each tenant's table changes appended to its change log in the backup bucket",
		MemoryMB:    256,
		Timeout:     changeFeedTimeout,
		Env: []string{
			settings.EnvStage, settings.EnvCatalogTable, settings.EnvDataAccessRoleARN, settings.EnvBackupBucket,
		},
		// Writes a tenant's change log only in that tenant's
		// TenantDataAccessRole session; reads tenant records (placement
		// and key) by key.
		TenantData: true,
		Catalog:    catalogRead,
		ChangeFeed: true,
	},
	fleetSpec,   // fleet.go
	billingSpec, // billing.go
}
