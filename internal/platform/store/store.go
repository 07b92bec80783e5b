package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/entityid"
)

// DynamoDB is the part of the DynamoDB client the store uses.
type DynamoDB interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// CredentialSource hands out a tenant's scoped credentials (internal/platform/access).
type CredentialSource interface {
	ForTenant(ctx context.Context, tenantID string) (aws.CredentialsProvider, error)
}

// Sealer encrypts and decrypts sensitive fields (internal/platform/crypto).
type Sealer interface {
	Seal(ctx context.Context, k crypto.Key, f crypto.Field, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, k crypto.Key, f crypto.Field, sealed []byte) ([]byte, error)
}

// Store reads and writes tenant data.
type Store struct {
	ddb    DynamoDB
	creds  CredentialSource
	sealer Sealer
	cursors
	now   func() time.Time
	newID func() string
	// catalogTable is the catalog table (WithCatalogTable), which tenant
	// sessions reach for their own settings (PutSettings), audit trail
	// (audit.go) and billing partitions (billing.go).
	catalogTable string
}

// Option configures a Store.
type Option func(*Store)

// WithCredentials makes every data call use the tenant's scoped credentials.
// Without it the client's own credentials are used (only for the isolation
// baseline benchmark; production wiring always sets it).
func WithCredentials(c CredentialSource) Option { return func(s *Store) { s.creds = c } }

// WithCursorKey sets the key that authenticates list cursors. Every instance
// of a deployment must share it.
func WithCursorKey(k []byte) Option {
	return func(s *Store) {
		if len(k) > 0 {
			s.cursors = cursors{key: append([]byte(nil), k...)}
		}
	}
}

// WithCursorKeySource makes the store authenticate list cursors with k,
// loaded on first use (see CursorKey). It wins over WithCursorKey.
func WithCursorKeySource(k *CursorKey) Option {
	return func(s *Store) {
		if k != nil {
			s.cursors.lazy = k
		}
	}
}

// WithClock replaces time.Now.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// defaultCursorKey is used when none is configured, which only the local
// stage may do (settings.Settings.CheckCursorKey): a deployed stage reads a
// key of its own from Secrets Manager. Cursors stay bound to their tenant
// without a secret key (see cursor.go); the key detects tampering.
var defaultCursorKey = []byte("tessera-cursor-v1")

// CatalogTenantPrefix begins the partition key of every tenant record in
// the catalog ("TENANT#<id>"): the infra app confines the catalog reads of
// the api and exports functions to it (dynamodb:LeadingKeys).
const CatalogTenantPrefix = catalogTenantPrefix

// New returns a Store. sealer protects sensitive fields.
func New(ddb DynamoDB, sealer Sealer, opts ...Option) *Store {
	s := &Store{ddb: ddb, sealer: sealer, cursors: cursors{key: defaultCursorKey}, now: time.Now,
		newID: entityid.New}
	for _, o := range opts {
		o(s)
	}
	s.ddb = marked(s.ddb) // each successful write marks the request (audit.go)
	return s
}

// scope is what every data call needs: whose data, where, with which
// credentials and key.
type scope struct {
	tenantID string
	table    string
	keyARN   string
	creds    aws.CredentialsProvider
	// checksFence: every write also checks the placement's fence
	// (catalog.Scope.ChecksFence; fence.go, ops.go).
	checksFence bool
}

func (sc scope) opts(o *dynamodb.Options) {
	if sc.creds != nil {
		o.Credentials = sc.creds
	}
}

func (sc scope) cryptoKey() crypto.Key {
	return crypto.Key{TenantID: sc.tenantID, KeyID: sc.keyARN, Credentials: sc.creds}
}

// TenantData is one tenant's data: every tenant-scoped read and write of
// the store is a method of it, so none can run without a scope.
type TenantData struct {
	s     *Store
	scope catalog.Scope
}

// For returns the data of the tenant that sc acts for (built from verified
// claims or from a catalog record: see catalog.Scope).
func (s *Store) For(sc catalog.Scope) TenantData { return TenantData{s: s, scope: sc} }

// errZeroScope: a TenantData made without a scope (a programming error).
var errZeroScope = errors.New("store: tenant data without a scope")

// open resolves d's scope into what a data call needs: the table, the key
// and the tenant's scoped credentials (cached by the credential source).
func (d TenantData) open(ctx context.Context) (*Store, scope, error) {
	if d.s == nil || !d.scope.Valid() {
		return nil, scope{}, errZeroScope
	}
	p := d.scope.Placement()
	sc := scope{tenantID: d.scope.TenantID(), table: p.Table, keyARN: p.KeyARN, checksFence: d.scope.ChecksFence()}
	if d.s.creds != nil {
		c, err := d.s.creds.ForTenant(ctx, sc.tenantID)
		if err != nil {
			return nil, scope{}, fmt.Errorf("credentials for tenant %s: %w", sc.tenantID, err)
		}
		sc.creds = c
	}
	return d.s, sc, nil
}

// Page is one page of a list.
type Page[T any] struct {
	Items []T `json:"items"`
	// Next is the cursor of the following page; empty on the last page.
	Next string `json:"nextCursor,omitempty"`
}

// PageRequest asks for up to Limit items after Cursor.
type PageRequest struct {
	Limit  int32
	Cursor string
}

// NewClient returns the DynamoDB client every store shares. Its SigV4
// signer keeps a signer per access key (awsconfig.Signers), so that calls
// of different tenants, each signed with that tenant's credentials, do not
// derive each other's signing keys again.
func NewClient(cfg aws.Config) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		logger, logSigning := o.Logger, o.ClientLogMode.IsSigning()
		o.HTTPSignerV4 = awsconfig.NewSigners(func(so *v4.SignerOptions) { so.Logger, so.LogSigning = logger, logSigning })
	})
}
