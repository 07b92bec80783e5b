package settings

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/cell"
	"github.com/tessera-saas/tessera/internal/platform/metering"
	"github.com/tessera-saas/tessera/internal/platform/plan"
)

// Environment variables read by FromEnv.
const (
	EnvStage             = "TESSERA_STAGE"
	EnvPooledTable       = "TESSERA_POOLED_TABLE"
	EnvCatalogTable      = "TESSERA_CATALOG_TABLE"
	EnvEventBus          = "TESSERA_EVENT_BUS"
	EnvDataAccessRoleARN = "TESSERA_DATA_ACCESS_ROLE_ARN"
	EnvUserPoolID        = "TESSERA_USER_POOL_ID"
	EnvAppClientID       = "TESSERA_APP_CLIENT_ID"
	EnvCatalogTTL        = "TESSERA_CATALOG_TTL"
	// EnvMigrationGrace is how long a migrated tenant's old copy is kept
	// before it is deleted (a duration; default 24h).
	EnvMigrationGrace = "TESSERA_MIGRATION_GRACE"
	// EnvFleetCanaries lists the canary tenants of fleet rollouts (wave
	// 0), comma-separated; empty: the first tenant in id order.
	EnvFleetCanaries = "TESSERA_FLEET_CANARIES"
	EnvCursorKey     = "TESSERA_CURSOR_KEY"
	// EnvCursorSecretARN names the Secrets Manager secret holding the
	// cursor key of a deployed stage (the CDK app generates one per stage).
	EnvCursorSecretARN   = "TESSERA_CURSOR_SECRET_ARN"
	EnvProvisioningQueue = "TESSERA_PROVISIONING_QUEUE_URL"
	EnvPartition         = "TESSERA_PARTITION"
	EnvAccountID         = "TESSERA_ACCOUNT_ID"
	EnvKeyAdminRoleARN   = "TESSERA_KEY_ADMIN_ROLE_ARN"
	EnvMetricsPerTenant  = "TESSERA_METRICS_PER_TENANT_TIERS"
	EnvExportBucket      = "TESSERA_EXPORT_BUCKET"
	EnvBackupBucket      = "TESSERA_BACKUP_BUCKET"
	// EnvExportQueuePrefix + upper-case tier ("TESSERA_EXPORT_QUEUE_URL_BASIC")
	// is the URL of that tier's export queue.
	EnvExportQueuePrefix = "TESSERA_EXPORT_QUEUE_URL_"
	// EnvUsagePlanPrefix + upper-case tier ("TESSERA_USAGE_PLAN_ID_BASIC") is
	// the id of that tier's API Gateway usage plan.
	EnvUsagePlanPrefix = "TESSERA_USAGE_PLAN_ID_"
	// EnvCell names the cell this deployment is (internal/platform/cell);
	// unset, it is cell.Default.
	EnvCell = "TESSERA_CELL"
	// EnvUserPoolRoleARN, when set, is a role in the account of the user
	// pool (a multi-cell stage's router account) that the functions assume
	// to manage users; unset, the pool is in the function's own account.
	EnvUserPoolRoleARN = "TESSERA_USER_POOL_ROLE_ARN"
	// EnvCells is the cell map of the router (cell.Parse: a JSON array) and
	// EnvDirectoryTable its directory table.
	EnvCells          = "TESSERA_CELLS"
	EnvDirectoryTable = "TESSERA_DIRECTORY_TABLE"
	// EnvChangeFeedFunctionARN and EnvChangeFeedDLQARN name the changefeed
	// function and its dead-letter queue: the provisioner passes them to
	// every TenantStack it creates, which then maps its table's stream to
	// the function. Both or neither; unset (locally, where the stream pump
	// reads the dedicated tables) a TenantStack has no mapping.
	EnvChangeFeedFunctionARN = "TESSERA_CHANGEFEED_FUNCTION_ARN"
	EnvChangeFeedDLQARN      = "TESSERA_CHANGEFEED_DLQ_ARN"
)

// TierEnv is the variable of tier t under prefix (EnvExportQueuePrefix,
// EnvUsagePlanPrefix).
func TierEnv(prefix string, t catalog.Tier) string { return prefix + strings.ToUpper(string(t)) }

// Settings is the deployment's configuration.
type Settings struct {
	Stage string
	// Cell is the cell this deployment serves (cell.Default when the stage
	// has one): new tenants record it in their placement.
	Cell         cell.ID
	PooledTable  string
	CatalogTable string
	EventBus     string
	// DataAccessRoleARN is TenantDataAccessRole; every tenant data call runs
	// under a session of it.
	DataAccessRoleARN string
	UserPoolID        string
	AppClientID       string
	// UserPoolRoleARN is assumed to manage the pool's users when the pool is
	// in another account (EnvUserPoolRoleARN).
	UserPoolRoleARN string
	// Cells (the router's cell map, JSON) and DirectoryTable are read by
	// the cell router only.
	Cells          string
	DirectoryTable string
	// CatalogTTL bounds how long a tenant record is cached in memory.
	CatalogTTL time.Duration
	// MigrationGrace is how long a migrated tenant's old copy is kept
	// (EnvMigrationGrace).
	MigrationGrace time.Duration
	// FleetCanaries are the canary tenants of fleet rollouts
	// (EnvFleetCanaries).
	FleetCanaries []string
	// CursorKey authenticates list cursors; every instance of a deployment
	// shares it. Cursors stay tenant-bound without it (see internal/platform/store).
	// Locally it comes from the environment (or is the store's built-in key).
	CursorKey string
	// CursorSecretARN is the secret that holds the cursor key in a deployed
	// stage; the key is read from it once per process, on first use.
	CursorSecretARN string
	// ProvisioningQueueURL is the queue the bus delivers onboarding and
	// offboarding events to, and the provisioner's re-checks go to.
	ProvisioningQueueURL string
	// Partition and AccountID name principals in tenant key policies.
	Partition, AccountID string
	// KeyAdminRoleARN manages tenant keys (the provisioner's role); empty
	// means the account root.
	KeyAdminRoleARN string
	// Metrics chooses which tiers' EMF lines carry a per-tenant dimension
	// set (each costs a custom metric per tenant).
	Metrics metering.Config
	// ExportBucket holds tenant exports, one prefix per tenant.
	ExportBucket string
	// BackupBucket holds each tenant's change log and snapshots, under
	// "<tenantId>/", encrypted with the tenant's key.
	BackupBucket string
	// ExportQueueURLs is each tier's export queue.
	ExportQueueURLs map[catalog.Tier]string
	// UsagePlanIDs is each tier's API Gateway usage plan; the provisioner
	// binds a tenant's API key to its tier's plan.
	UsagePlanIDs map[catalog.Tier]string
	// ChangeFeedFunctionARN and ChangeFeedDLQARN are the changefeed function
	// (an unqualified function ARN) and its dead-letter queue, both set or
	// both empty (EnvChangeFeedFunctionARN): the provisioner gives them to
	// each TenantStack, whose event source mapping exists only when they are
	// set.
	ChangeFeedFunctionARN, ChangeFeedDLQARN string
}

// Defaults are the names used locally.
func Defaults() Settings {
	return Settings{
		Stage:             "local",
		Cell:              cell.Default,
		PooledTable:       "tessera-pooled",
		CatalogTable:      "tessera-catalog",
		EventBus:          "tessera",
		DataAccessRoleARN: "arn:aws:iam::123456789012:role/TenantDataAccessRole",
		CatalogTTL:        30 * time.Second,
		MigrationGrace:    24 * time.Hour,
		Partition:         "aws",
		AccountID:         "123456789012",
		Metrics:           metering.DefaultConfig(),
		ExportBucket:      "tessera-exports",
		BackupBucket:      "tessera-backups",
		DirectoryTable:    "tessera-cells",
		ExportQueueURLs:   map[catalog.Tier]string{},
		UsagePlanIDs:      map[catalog.Tier]string{},
	}
}

// FromEnv reads the settings, falling back to Defaults for what is unset.
func FromEnv() (Settings, error) {
	s := Defaults()
	for env, dst := range map[string]*string{
		EnvStage: &s.Stage, EnvPooledTable: &s.PooledTable, EnvCatalogTable: &s.CatalogTable,
		EnvEventBus: &s.EventBus, EnvDataAccessRoleARN: &s.DataAccessRoleARN,
		EnvUserPoolID: &s.UserPoolID, EnvAppClientID: &s.AppClientID, EnvCursorKey: &s.CursorKey,
		EnvCursorSecretARN:   &s.CursorSecretARN,
		EnvProvisioningQueue: &s.ProvisioningQueueURL,
		EnvPartition:         &s.Partition, EnvAccountID: &s.AccountID, EnvKeyAdminRoleARN: &s.KeyAdminRoleARN,
		EnvUserPoolRoleARN: &s.UserPoolRoleARN, EnvCells: &s.Cells, EnvDirectoryTable: &s.DirectoryTable,
	} {
		if v := strings.TrimSpace(os.Getenv(env)); v != "" {
			*dst = v
		}
	}
	if v := strings.TrimSpace(os.Getenv(EnvExportBucket)); v != "" {
		s.ExportBucket = v
	}
	if v := strings.TrimSpace(os.Getenv(EnvBackupBucket)); v != "" {
		s.BackupBucket = v
	}
	if v := strings.TrimSpace(os.Getenv(EnvCell)); v != "" {
		if !cell.ID(v).Valid() {
			return Settings{}, fmt.Errorf("settings: %s=%q is not a cell id (c1 to c999)", EnvCell, v)
		}
		s.Cell = cell.ID(v)
	}
	for _, t := range plan.Tiers {
		if v := strings.TrimSpace(os.Getenv(TierEnv(EnvExportQueuePrefix, t))); v != "" {
			s.ExportQueueURLs[t] = v
		}
		if v := strings.TrimSpace(os.Getenv(TierEnv(EnvUsagePlanPrefix, t))); v != "" {
			s.UsagePlanIDs[t] = v
		}
	}
	if v, ok := os.LookupEnv(EnvMetricsPerTenant); ok {
		m, err := metering.ParseConfig(v)
		if err != nil {
			return Settings{}, fmt.Errorf("settings: %s: %w", EnvMetricsPerTenant, err)
		}
		s.Metrics = m
	}
	if v := os.Getenv(EnvCatalogTTL); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return Settings{}, fmt.Errorf("settings: %s=%q is not a duration", EnvCatalogTTL, v)
		}
		s.CatalogTTL = d
	}
	if v := os.Getenv(EnvMigrationGrace); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Settings{}, fmt.Errorf("settings: %s=%q is not a positive duration", EnvMigrationGrace, v)
		}
		s.MigrationGrace = d
	}
	for _, id := range strings.Split(os.Getenv(EnvFleetCanaries), ",") {
		if id = strings.TrimSpace(id); id != "" {
			s.FleetCanaries = append(s.FleetCanaries, id)
		}
	}
	s.ChangeFeedFunctionARN = strings.TrimSpace(os.Getenv(EnvChangeFeedFunctionARN))
	s.ChangeFeedDLQARN = strings.TrimSpace(os.Getenv(EnvChangeFeedDLQARN))
	if err := s.CheckChangeFeed(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// The shapes of the change feed settings, as TenantStack's parameters
// ChangeFeedFunctionArn and ChangeFeedDLQArn allow them (their
// AllowedPattern is "^$|" and these): an unqualified Lambda function ARN,
// and a standard SQS queue's ARN.
const (
	ChangeFeedFunctionARNPattern = `^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}$`
	ChangeFeedDLQARNPattern      = `^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,80}$`
)

var (
	changeFeedFunctionARN = regexp.MustCompile(ChangeFeedFunctionARNPattern)
	changeFeedDLQARN      = regexp.MustCompile(ChangeFeedDLQARNPattern)
)

// ErrChangeFeed means the change feed settings are not two ARNs of their
// kind, or not both set or both empty.
var ErrChangeFeed = errors.New("settings: invalid change feed settings")

// CheckChangeFeed refuses change feed settings that TenantStack would
// refuse (a stack created with them would fail, and its tenant with it):
// one set without the other, or a value that is not an ARN of its kind.
func (s Settings) CheckChangeFeed() error {
	fn, dlq := s.ChangeFeedFunctionARN, s.ChangeFeedDLQARN
	switch {
	case fn == "" && dlq == "":
		return nil
	case fn == "" || dlq == "":
		set, unset := EnvChangeFeedFunctionARN, EnvChangeFeedDLQARN
		if fn == "" {
			set, unset = unset, set
		}
		return fmt.Errorf("%w: %s is set and %s is not; set both (the changefeed function and its dead-letter queue) or neither", ErrChangeFeed, set, unset)
	case !changeFeedFunctionARN.MatchString(fn):
		return fmt.Errorf("%w: %s=%q is not an unqualified Lambda function ARN (arn:<partition>:lambda:<region>:<account>:function:<name>)", ErrChangeFeed, EnvChangeFeedFunctionARN, fn)
	case !changeFeedDLQARN.MatchString(dlq):
		return fmt.Errorf("%w: %s=%q is not an SQS queue ARN (arn:<partition>:sqs:<region>:<account>:<name>)", ErrChangeFeed, EnvChangeFeedDLQARN, dlq)
	}
	return nil
}

// Env renders the settings as environment variables, for .local/env and for
// child processes.
func (s Settings) Env() map[string]string {
	env := map[string]string{
		EnvStage: s.Stage, EnvPooledTable: s.PooledTable, EnvCatalogTable: s.CatalogTable,
		EnvEventBus: s.EventBus, EnvDataAccessRoleARN: s.DataAccessRoleARN,
		EnvUserPoolID: s.UserPoolID, EnvAppClientID: s.AppClientID,
		EnvCatalogTTL: s.CatalogTTL.String(), EnvMigrationGrace: s.MigrationGrace.String(), EnvProvisioningQueue: s.ProvisioningQueueURL,
		EnvExportBucket: s.ExportBucket, EnvCell: string(s.Cell),
	}
	if len(s.FleetCanaries) > 0 {
		env[EnvFleetCanaries] = strings.Join(s.FleetCanaries, ",")
	}
	for t, u := range s.ExportQueueURLs {
		env[TierEnv(EnvExportQueuePrefix, t)] = u
	}
	for t, id := range s.UsagePlanIDs {
		env[TierEnv(EnvUsagePlanPrefix, t)] = id
	}
	return env
}

// ErrBuiltinCursorKey means a deployed stage would authenticate list
// cursors with the built-in key, which every deployment shares.
var ErrBuiltinCursorKey = errors.New("settings: a deployed stage needs its own cursor key (" + EnvCursorSecretARN + ")")

// CheckCursorKey refuses the built-in cursor key outside the local stage: a
// deployed stage names its cursor key secret (CursorSecretARN, which the CDK
// app creates per stage), or gives a key explicitly (CursorKey).
func (s Settings) CheckCursorKey() error {
	if s.Stage == "local" || s.CursorSecretARN != "" || s.CursorKey != "" {
		return nil
	}
	return fmt.Errorf("%w: stage %q has neither %s nor %s", ErrBuiltinCursorKey, s.Stage, EnvCursorSecretARN, EnvCursorKey)
}

// UserPoolRegion is the Region of the user pool: the prefix of its id
// ("eu-west-1_AbC123"), which is the function's own Region unless a
// multi-cell stage keeps its one pool in the router's Region; Region() when
// the id has none.
func (s Settings) UserPoolRegion() string {
	if r, _, ok := strings.Cut(s.UserPoolID, "_"); ok && regionPattern.MatchString(r) {
		return r
	}
	return s.Region()
}

var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)

// Region is the AWS Region from the environment.
func (s Settings) Region() string {
	if r := os.Getenv("AWS_REGION"); r != "" {
		return r
	}
	return os.Getenv("AWS_DEFAULT_REGION")
}
