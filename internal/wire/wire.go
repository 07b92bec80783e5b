package wire

import (
	"context"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tessera-saas/tessera/internal/app/exporter"
	"github.com/tessera-saas/tessera/internal/app/tenantapi"
	"github.com/tessera-saas/tessera/internal/control/apikey"
	"github.com/tessera-saas/tessera/internal/control/operatorapi"
	"github.com/tessera-saas/tessera/internal/control/outbox"
	"github.com/tessera-saas/tessera/internal/control/provision"
	"github.com/tessera-saas/tessera/internal/control/usage"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/entityid"
	"github.com/tessera-saas/tessera/internal/platform/metering"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// MaxCachedTenants bounds the per-process tenant caches.
const MaxCachedTenants = 10000

// NewTierCache is the cached catalog the local gateway reads tenants'
// tiers from, to apply their usage plans.
func NewTierCache(cfg aws.Config, s settings.Settings) *catalog.Cache {
	return tenantCache(store.NewClient(cfg), s)
}

// tenantCache is the bounded, TTL-limited cache of tenant records each
// process keeps in front of the catalog table.
func tenantCache(ddb store.DynamoDB, s settings.Settings) *catalog.Cache {
	return catalog.NewCache(store.NewCatalog(ddb, s.CatalogTable), s.CatalogTTL, MaxCachedTenants)
}

// API is the composed app-plane handler and the parts benchmarks inspect.
type API struct {
	Handler     *tenantapi.Handler
	Credentials *access.Credentials
	Envelope    *crypto.Envelope
}

// NewAPI composes the api function's handler. metrics receives the EMF
// lines (os.Stdout in Lambda, where CloudWatch Logs extracts them); nil
// turns metering off (the benchmark's "without metering" variant).
func NewAPI(cfg aws.Config, s settings.Settings, log *slog.Logger, metrics io.Writer) *API {
	ddb := store.NewClient(cfg)
	creds := access.NewCredentials(sts.NewFromConfig(cfg), s.DataAccessRoleARN)
	env := crypto.NewEnvelope(kms.NewFromConfig(cfg))
	data := store.New(ddb, env, store.WithCredentials(creds), store.WithCursorKey([]byte(s.CursorKey)))
	tenants := tenantCache(ddb, s)
	users := directory.New(cognitoidentityprovider.NewFromConfig(cfg), s.UserPoolID)
	users.Invite = s.Stage != "local"
	h := tenantapi.New(tenants, data, users, log).WithExports(exporter.NewRequester(data, sqs.NewFromConfig(cfg), s.ExportQueueURLs))
	if metrics != nil {
		h = h.WithMetering(&tenantapi.Metering{
			Emitter:    metering.NewEmitter(metrics, s.Metrics),
			Aggregator: metering.NewAggregator(LedgerFlushEvery),
			Ledger:     store.NewLedger(ddb, s.CatalogTable),
			Writer:     writerID(),
		})
	}
	return &API{Handler: h, Credentials: creds, Envelope: env}
}

// LedgerFlushEvery is how often a process writes its usage totals.
const LedgerFlushEvery = time.Minute

// writerID names this process in the usage ledger: the Lambda log stream
// (one per execution environment), or a random id elsewhere.
func writerID() string {
	if v := os.Getenv("AWS_LAMBDA_LOG_STREAM_NAME"); v != "" {
		return v
	}
	return "proc-" + entityid.New()
}

// NewExports composes the exports function's handler: the worker of the
// tier export queues, reading each tenant's data and writing its export
// object with that tenant's scoped credentials.
func NewExports(cfg aws.Config, s settings.Settings, log *slog.Logger, opts ...exporter.Option) *exporter.Worker {
	ddb := store.NewClient(cfg)
	creds := access.NewCredentials(sts.NewFromConfig(cfg), s.DataAccessRoleARN)
	data := store.New(ddb, crypto.NewEnvelope(kms.NewFromConfig(cfg)), store.WithCredentials(creds), store.WithCursorKey([]byte(s.CursorKey)))
	tenants := tenantCache(ddb, s)
	return exporter.NewWorker(tenants, data, awsconfig.NewS3(cfg), creds, s.ExportBucket, log, opts...)
}

// NewTenants composes the tenants (operator API) function's handler.
func NewTenants(cfg aws.Config, s settings.Settings, log *slog.Logger) *operatorapi.Handler {
	cat := store.NewCatalog(store.NewClient(cfg), s.CatalogTable, []byte(s.CursorKey))
	ob := outbox.New(cat, eventbridge.NewFromConfig(cfg), s.EventBus, log)
	return operatorapi.New(cat, ob, log)
}

// Provisioner is the composed provisioner and the outbox it publishes with.
type Provisioner struct {
	*provision.Provisioner
	Outbox *outbox.Outbox
}

// NewProvisioner composes the provisioner function's handler.
func NewProvisioner(cfg aws.Config, s settings.Settings, log *slog.Logger) *Provisioner {
	d := ProvisionerDeps(cfg, s, log)
	return &Provisioner{Outbox: d.Outbox, Provisioner: provision.New(d)}
}

// ProvisionerDeps are the provisioner's collaborators on cfg.
func ProvisionerDeps(cfg aws.Config, s settings.Settings, log *slog.Logger) provision.Deps {
	ddb := store.NewClient(cfg)
	cat := store.NewCatalog(ddb, s.CatalogTable, []byte(s.CursorKey))
	creds := access.NewCredentials(sts.NewFromConfig(cfg), s.DataAccessRoleARN)
	users := directory.New(cognitoidentityprovider.NewFromConfig(cfg), s.UserPoolID)
	users.Invite = s.Stage != "local"
	return provision.Deps{
		Catalog: cat,
		Data:    store.New(ddb, crypto.NewEnvelope(kms.NewFromConfig(cfg)), store.WithCredentials(creds), store.WithCursorKey([]byte(s.CursorKey))),
		Keys:    kms.NewFromConfig(cfg), Users: users,
		APIKeys: apikey.New(apigateway.NewFromConfig(cfg), s.Stage, s.UsagePlanIDs),
		Stacks:  cloudformation.NewFromConfig(cfg), Queue: sqs.NewFromConfig(cfg), QueueURL: s.ProvisioningQueueURL,
		Outbox: outbox.New(cat, eventbridge.NewFromConfig(cfg), s.EventBus, log), Settings: s,
		Partition: s.Partition, Account: s.AccountID, AdminRoleARN: s.KeyAdminRoleARN, Log: log,
	}
}

// NewUsageSource composes the finance report's source.
func NewUsageSource(cfg aws.Config, s settings.Settings) usage.StoreSource {
	ddb := store.NewClient(cfg)
	creds := access.NewCredentials(sts.NewFromConfig(cfg), s.DataAccessRoleARN)
	return usage.StoreSource{
		Catalog: store.NewCatalog(ddb, s.CatalogTable, []byte(s.CursorKey)),
		Ledger:  store.NewLedger(ddb, s.CatalogTable),
		Data:    store.New(ddb, crypto.NewEnvelope(kms.NewFromConfig(cfg)), store.WithCredentials(creds)),
	}
}

// Load reads the AWS configuration and the settings once, at cold start,
// and returns the JSON logger of the named function.
func Load(ctx context.Context, function string) (aws.Config, settings.Settings, *slog.Logger, error) {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("function", function)
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return aws.Config{}, settings.Settings{}, log, err
	}
	s, err := settings.FromEnv()
	return cfg, s, log, err
}
