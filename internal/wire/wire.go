package wire

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/tessera-saas/tessera/internal/app/authorizer"
	"github.com/tessera-saas/tessera/internal/app/exporter"
	"github.com/tessera-saas/tessera/internal/app/tenantapi"
	"github.com/tessera-saas/tessera/internal/control/apikey"
	"github.com/tessera-saas/tessera/internal/control/backup"
	"github.com/tessera-saas/tessera/internal/control/cellrouter"
	"github.com/tessera-saas/tessera/internal/control/operatorapi"
	"github.com/tessera-saas/tessera/internal/control/outbox"
	"github.com/tessera-saas/tessera/internal/control/provision"
	"github.com/tessera-saas/tessera/internal/control/usage"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/cell"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/entityid"
	"github.com/tessera-saas/tessera/internal/platform/features"
	"github.com/tessera-saas/tessera/internal/platform/idtoken"
	"github.com/tessera-saas/tessera/internal/platform/metering"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
	"github.com/tessera-saas/tessera/internal/wire/openapi"
)

// MaxCachedTenants bounds the per-process tenant caches.
const MaxCachedTenants = 10000

// NewVerifier is a process's verifier of the user pool's ID tokens: the
// pool's JWKS (fetched once, then cached) behind the cache of verified
// tokens (idtoken.Cache), the one implementation the tenant authorizer, the
// api and tenants functions and the local gateway share.
func NewVerifier(cfg aws.Config, s settings.Settings) (*idtoken.Cache, error) {
	v, err := idtoken.NewVerifier(idtoken.Config{
		UserPoolID: s.UserPoolID,
		ClientID:   s.AppClientID,
		JWKSURL:    idtoken.JWKSURL(CognitoEndpoint(s.UserPoolRegion()), s.UserPoolID),
	})
	if err != nil {
		return nil, err
	}
	return idtoken.NewCache(v, idtoken.CacheTTL, MaxCachedTokens), nil
}

// MaxCachedTokens bounds the per-process cache of verified tokens (about
// 2 KB each).
const MaxCachedTokens = 10000

// CognitoEndpoint is where the user pool's JWKS is served: the endpoint in
// use for Cognito (the emulator's, locally), or AWS's own.
func CognitoEndpoint(region string) string {
	for _, env := range []string{"AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", "AWS_ENDPOINT_URL"} {
		if v := os.Getenv(env); v != "" {
			return v
		}
	}
	return "https://cognito-idp." + region + ".amazonaws.com"
}

// verifierOrFail is NewVerifier, or, when the settings name no usable pool
// and app client, a verifier that fails every request (500): a handler
// never runs without verifying tokens. Load refuses such settings at a
// Lambda's cold start already.
func verifierOrFail(cfg aws.Config, s settings.Settings, log *slog.Logger) tenant.Verifier {
	v, err := NewVerifier(cfg, s)
	if err != nil {
		log.Error("ID token verifier", "error", err.Error())
		return failingVerifier{err}
	}
	return v
}

type failingVerifier struct{ err error }

func (f failingVerifier) Verify(context.Context, string) (map[string]string, error) {
	return nil, f.err
}

// NewAuthorizer composes the authorizer function's handler: the tenant
// routes' Lambda REQUEST authorizer.
func NewAuthorizer(cfg aws.Config, s settings.Settings, log *slog.Logger) *authorizer.Handler {
	return authorizer.New(verifierOrFail(cfg, s, log), tenantCache(store.NewClient(cfg), s), log)
}

// tenantCache is the bounded, TTL-limited cache of tenant records each
// process keeps in front of the catalog table.
func tenantCache(ddb store.DynamoDB, s settings.Settings) *catalog.Cache {
	return catalog.NewCache(store.NewCatalog(ddb, s.CatalogTable), s.CatalogTTL, MaxCachedTenants)
}

// newFeatures is a process's feature flag client: Tessera's OpenFeature
// provider over the catalog's flag definitions (cached for the catalog
// TTL) and the tenants' cached records (their overrides). It makes no AWS
// call. Serving flags from AWS AppConfig instead (see the README) changes
// only the provider given to features.NewClient here.
func newFeatures(ddb store.DynamoDB, s settings.Settings, tenants *catalog.Cache) (*openfeature.Client, *features.Definitions) {
	defs := features.NewDefinitions(store.NewCatalog(ddb, s.CatalogTable), s.CatalogTTL)
	c, err := features.NewClient(context.Background(), features.NewProvider(defs, tenants))
	if err != nil { // the provider's Init makes no call and cannot fail
		panic(err)
	}
	return c, defs
}

// API is the composed app-plane handler and the parts benchmarks inspect.
type API struct {
	Handler     *tenantapi.Handler
	Credentials *access.Credentials
	Envelope    *crypto.Envelope
	// usageCheck is how often the usage flusher looks (RunUsageFlusher).
	usageCheck time.Duration
}

// NewAPI composes the api function's handler. metrics receives the EMF
// lines (os.Stdout in Lambda, where CloudWatch Logs extracts them); nil
// turns metering off (the benchmark's "without metering" variant). The
// process runs RunUsageFlusher beside it (usage.go).
func NewAPI(cfg aws.Config, s settings.Settings, log *slog.Logger, metrics io.Writer, opts ...APIOption) *API {
	o := apiOptions{flushEvery: LedgerFlushEvery, checkEvery: LedgerCheckEvery}
	for _, f := range opts {
		f(&o)
	}
	ddb := store.NewClient(cfg)
	creds := access.NewCredentials(sts.NewFromConfig(cfg), s.DataAccessRoleARN)
	env := crypto.NewEnvelope(kms.NewFromConfig(cfg))
	// Audit entries of tenant routes go to the catalog table, in the
	// tenant's own session; so do settings writes and invoice reads
	// (store.WithCatalogTable).
	data := store.New(ddb, env, store.WithCredentials(creds), store.WithCursorKeySource(cursorKey(cfg, s)),
		store.WithCatalogTable(s.CatalogTable))
	tenants := tenantCache(ddb, s)
	users := directory.New(userPoolClient(cfg, s, directory.InviterActions), s.UserPoolID)
	users.Invite = s.Stage != "local"
	flags, defs := newFeatures(ddb, s, tenants)
	h := tenantapi.New(tenants, data, users, log).WithExports(exporter.NewRequester(data, sqs.NewFromConfig(cfg), s.ExportQueueURLs)).
		WithVerifier(verifierOrFail(cfg, s, log)).WithOpenAPI(openapi.Document).WithFeatures(flags, defs, cfg.Region)
	if metrics != nil {
		h = h.WithMetering(&tenantapi.Metering{
			Emitter:    metering.NewEmitter(metrics, s.Metrics),
			Aggregator: metering.NewAggregator(o.flushEvery),
			Ledger:     store.NewLedger(ddb, s.CatalogTable),
			Writer:     writerID(),
		})
	}
	return &API{Handler: h, Credentials: creds, Envelope: env, usageCheck: o.checkEvery}
}

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
	data := store.New(ddb, crypto.NewEnvelope(kms.NewFromConfig(cfg)), store.WithCredentials(creds), store.WithCursorKeySource(cursorKey(cfg, s)))
	tenants := tenantCache(ddb, s)
	return exporter.NewWorker(tenants, data, awsconfig.NewS3(cfg), creds, s.ExportBucket, log,
		append([]exporter.Option{exporter.WithRegion(cfg.Region)}, opts...)...)
}

// userPoolClient is the Cognito client that manages the pool's users: with
// the function's own credentials, or, when the pool is in another account
// (a multi-cell stage keeps one pool in its router account), with a session
// of s.UserPoolRoleARN there, cached and refreshed by the SDK. It makes no
// AWS call until it is used.
//
// The role is the cell's one role in the pool's account; the session is
// narrowed to actions (a session policy), the directory operations this
// function performs, so that a function cannot do through the shared role
// what its own role may not. The client calls the pool's Region.
func userPoolClient(cfg aws.Config, s settings.Settings, actions []string) *cognitoidentityprovider.Client {
	region := s.UserPoolRegion()
	if s.UserPoolRoleARN == "" {
		return cognitoidentityprovider.NewFromConfig(cfg, func(o *cognitoidentityprovider.Options) {
			if region != "" {
				o.Region = region
			}
		})
	}
	policy := sessionPolicy(actions)
	c := cfg.Copy()
	c.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), s.UserPoolRoleARN,
		func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "tessera-users-" + string(s.Cell)
			o.Policy = &policy
		}))
	if region != "" {
		c.Region = region
	}
	return cognitoidentityprovider.NewFromConfig(c)
}

// sessionPolicy allows actions on any resource: a session policy only
// narrows the role's own policy, which names the pool.
func sessionPolicy(actions []string) string {
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17",
		"Statement": []map[string]any{{"Effect": "Allow", "Action": actions, "Resource": "*"}}})
	return string(b)
}

// NewRouter composes the cell router function's handler: the cell map of
// s.Cells and the directory table. A malformed map is an error at cold
// start.
func NewRouter(cfg aws.Config, s settings.Settings, log *slog.Logger) (*cellrouter.Handler, error) {
	m, err := cell.Parse([]byte(s.Cells))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", settings.EnvCells, err)
	}
	return cellrouter.New(store.NewDirectory(store.NewClient(cfg), s.DirectoryTable), m, verifierOrFail(cfg, s, log), nil, log), nil
}

// NewTenants composes the tenants (operator API) function's handler. Its
// backup routes request jobs (which the provisioner runs) and list a
// tenant's snapshots with that tenant's scoped credentials.
func NewTenants(cfg aws.Config, s settings.Settings, log *slog.Logger) *operatorapi.Handler {
	ddb := store.NewClient(cfg)
	ck := cursorKey(cfg, s)
	cat := store.NewCatalog(ddb, s.CatalogTable).WithCursorKeySource(ck)
	ob := outbox.New(cat, eventbridge.NewFromConfig(cfg), s.EventBus, log)
	creds := access.NewCredentials(sts.NewFromConfig(cfg), s.DataAccessRoleARN)
	data := store.New(ddb, crypto.NewEnvelope(kms.NewFromConfig(cfg)), store.WithCredentials(creds), store.WithCursorKeySource(ck))
	return operatorapi.New(cat, ob, log).WithVerifier(verifierOrFail(cfg, s, log)).WithCell(s.Cell).
		WithBackups(newBackups(cfg, s, cat, data, creds, ob, nil, log))
}

// Provisioner is the composed provisioner, the outbox it publishes with,
// and the backup engine that runs its backup and restore jobs (and, on a
// schedule, requests the backups that are due: ScheduleBackups).
type Provisioner struct {
	*provision.Provisioner
	Outbox  *outbox.Outbox
	Backups *backup.Service
}

// NewProvisioner composes the provisioner function's handler.
func NewProvisioner(cfg aws.Config, s settings.Settings, log *slog.Logger) *Provisioner {
	d, b := provisionerDeps(cfg, s, log)
	return &Provisioner{Outbox: d.Outbox, Backups: b, Provisioner: provision.New(d)}
}

// ProvisionerDeps are the provisioner's collaborators on cfg.
func ProvisionerDeps(cfg aws.Config, s settings.Settings, log *slog.Logger) provision.Deps {
	d, _ := provisionerDeps(cfg, s, log)
	return d
}

// provisionerDeps are the provisioner's collaborators and the backup
// engine among them (Deps.Backups).
func provisionerDeps(cfg aws.Config, s settings.Settings, log *slog.Logger) (provision.Deps, *backup.Service) {
	ddb := store.NewClient(cfg)
	ck := cursorKey(cfg, s)
	cat := store.NewCatalog(ddb, s.CatalogTable).WithCursorKeySource(ck)
	creds := access.NewCredentials(sts.NewFromConfig(cfg), s.DataAccessRoleARN)
	users := directory.New(userPoolClient(cfg, s, directory.ManagerActions), s.UserPoolID)
	users.Invite = s.Stage != "local"
	data := store.New(ddb, crypto.NewEnvelope(kms.NewFromConfig(cfg)), store.WithCredentials(creds), store.WithCursorKeySource(ck))
	ob := outbox.New(cat, eventbridge.NewFromConfig(cfg), s.EventBus, log)
	stacks := cloudformation.NewFromConfig(cfg)
	backups := newBackups(cfg, s, cat, data, creds, ob, provision.Tables{Stacks: stacks, Settings: s}, log)
	return provision.Deps{
		Catalog: cat,
		Data:    data,
		Keys:    kms.NewFromConfig(cfg), Users: users,
		APIKeys: apikey.New(apigateway.NewFromConfig(cfg), s.Stage, s.UsagePlanIDs),
		Stacks:  stacks, Queue: sqs.NewFromConfig(cfg), QueueURL: s.ProvisioningQueueURL,
		Outbox: ob, Settings: s,
		Partition: s.Partition, Account: s.AccountID, AdminRoleARN: s.KeyAdminRoleARN,
		Backups: backups, Log: log,
	}, backups
}

// NewUsageSource composes the finance report's source.
func NewUsageSource(cfg aws.Config, s settings.Settings) usage.StoreSource {
	ddb := store.NewClient(cfg)
	creds := access.NewCredentials(sts.NewFromConfig(cfg), s.DataAccessRoleARN)
	return usage.StoreSource{
		Catalog: store.NewCatalog(ddb, s.CatalogTable).WithCursorKeySource(cursorKey(cfg, s)),
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
	if err != nil {
		return cfg, s, log, err
	}
	if listsCursors[function] {
		if err := s.CheckCursorKey(); err != nil {
			return cfg, s, log, fmt.Errorf("%s: %w", function, err)
		}
	}
	if verifiesTokens[function] {
		if _, err := NewVerifier(cfg, s); err != nil {
			return cfg, s, log, fmt.Errorf("%s verifies ID tokens: %w", function, err)
		}
	}
	return cfg, s, log, nil
}

// verifiesTokens names the functions that verify ID tokens themselves: they
// need the user pool and app client at cold start.
var verifiesTokens = map[string]bool{"api": true, "tenants": true, "authorizer": true, "router": true}
