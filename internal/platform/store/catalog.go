package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/entityid"
)

// Catalog persists tenant records in the catalog table, with the function's
// own credentials (the catalog is control-plane data, not tenant data).
//
// Items: the profile (pk TENANT#<id>, sk PROFILE, listed through the
// "tenants" index), audit entries (pk AUDIT#<id>, sk <time>#<id>: audit.go),
// idempotency keys of creates (pk IDEMPOTENCY#<operator>#<key>, expiring
// after IdempotencyTTL through the table's TTL attribute), and the outbox of
// events not yet published (pk OUTBOX, sk <time>#<id>); and each tenant's
// tier history (pk TIERS#<id>, billing.go).
type Catalog struct {
	ddb   DynamoDB
	table string
	now   func() time.Time
	cursors
}

// NewCatalog returns the catalog stored in table. cursorKey authenticates
// list cursors (nil: the built-in key).
func NewCatalog(ddb DynamoDB, table string, cursorKey ...[]byte) *Catalog {
	c := &Catalog{ddb: marked(ddb), table: table, now: time.Now, cursors: cursors{key: defaultCursorKey}}
	if len(cursorKey) > 0 && len(cursorKey[0]) > 0 {
		c.cursors = cursors{key: cursorKey[0]}
	}
	return c
}

// WithClock returns a copy of the catalog that reads the time from now
// (leases, idempotency expiry, audit and update times).
func (c *Catalog) WithClock(now func() time.Time) *Catalog {
	cp := *c
	cp.now = now
	return &cp
}

// CatalogTTLAttribute is the catalog table's TTL attribute (epoch seconds),
// which bootstrap and infra/ enable. Idempotency keys, ended jobs and
// audit entries carry it.
const CatalogTTLAttribute = "expiresAt"

// IdempotencyTTL is how long an Idempotency-Key replays its create. DynamoDB
// deletes expired keys within a day or two; until then the catalog treats
// them as absent itself.
const IdempotencyTTL = 24 * time.Hour

// Names of the catalog's list index, which bootstrap and infra/ create.
const (
	CatalogIndex        = "tenants"
	CatalogIndexPK      = "kind"
	CatalogIndexSK      = "tenantId"
	catalogKindTenant   = "TENANT"
	outboxPK            = "OUTBOX"
	idempotencyPrefix   = "IDEMPOTENCY#"
	auditPrefix         = "AUDIT#"
	catalogCursorEntity = "TENANTS"
)

// Catalog errors.
var (
	// ErrStatusChanged means a lifecycle change started from the wrong state
	// or lost a race; a retried or duplicated transition sees it and stops.
	ErrStatusChanged = errors.New("store: tenant status is not the expected one")
	// ErrIdempotencyMismatch means an idempotency key was reused for a
	// different request.
	ErrIdempotencyMismatch = errors.New("store: idempotency key used for a different request")
	// ErrLeased means another worker holds the tenant's lease.
	ErrLeased = errors.New("store: tenant is leased by another worker")
)

type catalogItem struct {
	key
	catalog.Record
	Kind       string `dynamodbav:"kind"`
	LeaseOwner string `dynamodbav:"leaseOwner,omitempty"`
	// LeaseExpires is the end of the lease in Unix milliseconds: a number,
	// so that conditions compare it as one.
	LeaseExpires int64 `dynamodbav:"leaseExpires,omitempty"`
}

// Lease attributes; leaseUntil is the RFC 3339 end that earlier versions
// wrote, removed on release.
const (
	attrLeaseOwner   = "leaseOwner"
	attrLeaseExpires = "leaseExpires"
	attrLeaseLegacy  = "leaseUntil"
	// attrFlagOverrides holds catalog.Record.FlagOverrides.
	attrFlagOverrides = "flagOverrides"
)

// OutboxEvent is an event recorded in the same transaction as the state
// change it announces, published afterwards and then deleted.
type OutboxEvent struct {
	ID         string `dynamodbav:"eventId"`
	DetailType string `dynamodbav:"detailType"`
	Detail     string `dynamodbav:"detail"`
	TenantID   string `dynamodbav:"tenantId"`
	// SK locates the item; set by the catalog.
	SK string `dynamodbav:"sk"`
}

// GetTenant reads a tenant record; catalog.ErrNotFound when absent.
func (c *Catalog) GetTenant(ctx context.Context, tenantID string) (catalog.Record, error) {
	it, err := c.getItem(ctx, tenantID, false)
	return it.Record, err
}

func (c *Catalog) getItem(ctx context.Context, tenantID string, consistent bool) (catalogItem, error) {
	var it catalogItem
	_, found, err := getItem(ctx, c.ddb, c.table, catalogKey(tenantID), consistent, &it, "")
	if err != nil {
		return catalogItem{}, fmt.Errorf("get tenant %s: %w", tenantID, err)
	}
	if !found {
		return catalogItem{}, fmt.Errorf("get tenant %s: %w", tenantID, catalog.ErrNotFound)
	}
	return it, nil
}

// CreateTenant writes a new tenant record; ErrExists if the id is taken.
func (c *Catalog) CreateTenant(ctx context.Context, rec catalog.Record) error {
	_, _, err := c.Create(ctx, rec, Idempotency{}, nil, nil)
	return err
}

// Idempotency identifies a create request: the same Key of the same Owner
// (the operator's sub) with the same RequestHash returns the tenant created
// first, for IdempotencyTTL. Keys of different owners never meet.
type Idempotency struct {
	Owner, Key, RequestHash string
}

func (i Idempotency) key() key {
	return key{PK: idempotencyPrefix + i.Owner + "#" + i.Key, SK: "CREATE"}
}

type idempotencyItem struct {
	key
	TenantID    string `dynamodbav:"tenantId"`
	RequestHash string `dynamodbav:"requestHash"`
	// ExpiresAt is the TTL attribute (CatalogTTLAttribute), epoch seconds.
	ExpiresAt int64 `dynamodbav:"expiresAt"`
}

// live reports whether the key still replays at now (DynamoDB's TTL
// deletion lags, and emulators never delete).
func (it idempotencyItem) live(now time.Time) bool { return it.ExpiresAt > now.Unix() }

// Create writes a new tenant record, its idempotency key, its audit entry
// and its outbox event in one transaction. When the idempotency key was
// used before for the same request, it returns the existing record and
// replayed=true; for another request, ErrIdempotencyMismatch.
func (c *Catalog) Create(ctx context.Context, rec catalog.Record, idem Idempotency, ev *OutboxEvent, audit *AuditEntry) (catalog.Record, bool, error) {
	items := []types.TransactWriteItem{}
	put, err := putIfAbsent(c.table, catalogItem{key: catalogKey(rec.TenantID), Record: rec, Kind: catalogKindTenant})
	if err != nil {
		return rec, false, err
	}
	items = append(items, put)
	if idem.Key != "" {
		// Absent, or present but expired: an expired key is overwritten.
		now := c.now()
		cond := notExists.Or(expression.Name(CatalogTTLAttribute).LessThanEqual(expression.Value(now.Unix())))
		p, err := putWhen(c.table, idempotencyItem{key: idem.key(), TenantID: rec.TenantID, RequestHash: idem.RequestHash,
			ExpiresAt: now.Add(IdempotencyTTL).Unix()}, cond)
		if err != nil {
			return rec, false, err
		}
		items = append(items, p)
	}
	if audit != nil && audit.Tier == "" {
		audit.Tier = rec.Tier
	}
	extra, err := c.sideItems(ctx, rec.TenantID, ev, audit)
	if err != nil {
		return rec, false, err
	}
	items = append(items, extra...)
	// The tier history's first entry (billing.go), last: the indices above
	// stay what failedAt reads.
	born := rec.CreatedAt
	if born.IsZero() {
		born = c.now()
	}
	hist, err := tierHistoryPut(c.table, catalog.TierChange{TenantID: rec.TenantID, To: rec.Tier, At: born})
	if err != nil {
		return rec, false, err
	}
	items = append(items, hist)
	_, err = c.ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		committed(ctx, audit)
	}
	reasons := cancellation(err)
	switch {
	case idem.Key != "" && failedAt(reasons, 1):
		return c.replay(ctx, idem)
	case failedAt(reasons, 0):
		return rec, false, fmt.Errorf("create tenant %s: %w", rec.TenantID, ErrExists)
	case err != nil:
		return rec, false, fmt.Errorf("create tenant %s: %w", rec.TenantID, err)
	}
	return rec, false, nil
}

func (c *Catalog) replay(ctx context.Context, idem Idempotency) (catalog.Record, bool, error) {
	var it idempotencyItem // stays empty, and so mismatches, when the key is gone
	if _, _, err := getItem(ctx, c.ddb, c.table, idem.key(), true, &it, ""); err != nil {
		return catalog.Record{}, false, fmt.Errorf("read idempotency key: %w", err)
	}
	if it.RequestHash != idem.RequestHash || !it.live(c.now()) {
		return catalog.Record{}, false, ErrIdempotencyMismatch
	}
	rec, err := c.GetTenant(ctx, it.TenantID)
	return rec, true, err
}

// sideItems are the outbox event and audit entry that go with a change
// (the entry stamped as the request's own when ctx carries one: auditSide;
// the caller reports a successful transaction with committed).
func (c *Catalog) sideItems(ctx context.Context, tenantID string, ev *OutboxEvent, audit *AuditEntry) ([]types.TransactWriteItem, error) {
	var items []types.TransactWriteItem
	now := c.now().UTC()
	if ev != nil {
		if ev.ID == "" {
			ev.ID = entityid.New()
		}
		ev.TenantID = tenantID
		ev.SK = now.Format(time.RFC3339Nano) + "#" + ev.ID
		p, err := putIfAbsent(c.table, struct {
			PK string `dynamodbav:"pk"`
			OutboxEvent
		}{PK: outboxPK, OutboxEvent: *ev})
		if err != nil {
			return nil, err
		}
		items = append(items, p)
	}
	if audit != nil {
		p, err := c.auditSide(ctx, tenantID, audit)
		if err != nil {
			return nil, err
		}
		items = append(items, p)
	}
	return items, nil
}

// Change is a conditional change of a tenant record.
type Change struct {
	// From lists the states the tenant must be in; empty means any.
	From []catalog.Status
	// To is the new state; empty keeps the state.
	To catalog.Status
	// Tier, when set, is the new tier.
	Tier catalog.Tier
	// Placement, when set, replaces the placement.
	Placement *catalog.Placement
	// Reason, when set, replaces the reason; ClearReason removes it.
	Reason      string
	ClearReason bool
	// KeyRequested marks that the tenant's key is about to be created.
	KeyRequested bool
	// UsageKey, when set, is the value of the tenant's API key
	// (catalog.Record.UsageKey).
	UsageKey string
	// Migration, when set, replaces the record of the tenant's tier
	// migration (catalog.Record.Migration).
	Migration *catalog.Migration
	// Template, when set, is the TenantStack template version the
	// tenant's dedicated stack now runs (catalog.Placement.Template); the
	// change then also requires a dedicated placement on Table, so a
	// tier migration that moved the tenant meanwhile is not undone.
	Template, Table string
	// FlagOverrides, with ReplaceFlagOverrides, replaces the tenant's
	// feature flag overrides (catalog.Record.FlagOverrides; empty removes
	// them). SetFlagOverride builds it from the record it read.
	FlagOverrides        map[string]any
	ReplaceFlagOverrides bool
	// IfVersion, when set, requires the record to be still at this version
	// (ErrStatusChanged otherwise).
	IfVersion int64
}

// Apply makes the change if the tenant is in one of ch.From, together with
// its outbox event and audit entry, in one transaction. It returns the
// record as it is afterwards; ErrStatusChanged when the state did not match.
func (c *Catalog) Apply(ctx context.Context, tenantID string, ch Change, ev *OutboxEvent, audit *AuditEntry) (catalog.Record, error) {
	now := c.now().UTC()
	upd := expression.Set(expression.Name("updatedAt"), expression.Value(now)).
		Add(expression.Name(attrVersion), expression.Value(1))
	if ch.To != "" {
		upd = upd.Set(expression.Name("status"), expression.Value(ch.To))
	}
	if ch.Tier != "" {
		upd = upd.Set(expression.Name("tier"), expression.Value(ch.Tier))
	}
	if ch.KeyRequested {
		upd = upd.Set(expression.Name("keyRequested"), expression.Value(true))
	}
	if ch.Placement != nil {
		upd = upd.Set(expression.Name("placement"), expression.Value(*ch.Placement))
	}
	if ch.UsageKey != "" {
		upd = upd.Set(expression.Name("usageKey"), expression.Value(ch.UsageKey))
	}
	if ch.Migration != nil {
		upd = upd.Set(expression.Name("migration"), expression.Value(*ch.Migration))
	}
	if ch.Template != "" {
		upd = upd.Set(expression.Name("placement.template"), expression.Value(ch.Template))
	}
	if ch.ReplaceFlagOverrides {
		if len(ch.FlagOverrides) == 0 {
			upd = upd.Remove(expression.Name(attrFlagOverrides))
		} else {
			upd = upd.Set(expression.Name(attrFlagOverrides), expression.Value(ch.FlagOverrides))
		}
	}
	if ch.Reason != "" {
		upd = upd.Set(expression.Name("reason"), expression.Value(ch.Reason))
	} else if ch.ClearReason {
		upd = upd.Remove(expression.Name("reason"))
	}
	cond := expression.AttributeExists(expression.Name(attrPK))
	// A change of tier appends to the tier history (billing.go) in the same
	// transaction, conditioned on the tier it read.
	var history *catalog.TierChange
	if ch.Tier != "" {
		cur, err := c.getItem(ctx, tenantID, true)
		if err != nil {
			return catalog.Record{}, err
		}
		if cur.Tier != ch.Tier {
			history = &catalog.TierChange{TenantID: tenantID, From: cur.Tier, To: ch.Tier, At: now}
			cond = cond.And(expression.Name("tier").Equal(expression.Value(cur.Tier)))
		}
	}
	if ch.Template != "" {
		cond = cond.And(expression.Name("placement.dedicated").Equal(expression.Value(true)),
			expression.Name("placement.table").Equal(expression.Value(ch.Table)))
	}
	if ch.IfVersion != 0 {
		cond = cond.And(expression.Name(attrVersion).Equal(expression.Value(ch.IfVersion)))
	}
	if len(ch.From) > 0 {
		in := make([]expression.OperandBuilder, 0, len(ch.From))
		for _, s := range ch.From {
			in = append(in, expression.Value(s))
		}
		if len(in) == 1 {
			cond = cond.And(expression.Name("status").Equal(in[0]))
		} else {
			cond = cond.And(expression.Name("status").In(in[0], in[1:]...))
		}
	}
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return catalog.Record{}, fmt.Errorf("build update: %w", err)
	}
	av, err := attributevalue.MarshalMap(catalogKey(tenantID))
	if err != nil {
		return catalog.Record{}, fmt.Errorf("marshal key: %w", err)
	}
	items := []types.TransactWriteItem{{Update: &types.Update{
		TableName: aws.String(c.table), Key: av,
		ConditionExpression: expr.Condition(), UpdateExpression: expr.Update(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}}}
	extra, err := c.sideItems(ctx, tenantID, ev, audit)
	if err != nil {
		return catalog.Record{}, err
	}
	items = append(items, extra...)
	if history != nil {
		p, err := tierHistoryPut(c.table, *history)
		if err != nil {
			return catalog.Record{}, err
		}
		items = append(items, p)
	}
	_, err = c.ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		committed(ctx, audit)
	}
	if reasons := cancellation(err); failedAt(reasons, 0) {
		if _, gerr := c.getItem(ctx, tenantID, true); errors.Is(gerr, catalog.ErrNotFound) {
			return catalog.Record{}, gerr
		}
		return catalog.Record{}, fmt.Errorf("tenant %s -> %s: %w", tenantID, ch.To, ErrStatusChanged)
	}
	if err != nil {
		return catalog.Record{}, fmt.Errorf("change tenant %s: %w", tenantID, err)
	}
	it, err := c.getItem(ctx, tenantID, true)
	return it.Record, err
}

// ListTenants returns a page of tenant records in id order.
func (c *Catalog) ListTenants(ctx context.Context, req PageRequest) (Page[catalog.Record], error) {
	expr, err := expression.NewBuilder().WithKeyCondition(expression.Key(CatalogIndexPK).Equal(expression.Value(catalogKindTenant))).Build()
	if err != nil {
		return Page[catalog.Record]{}, fmt.Errorf("build key condition: %w", err)
	}
	in := &dynamodb.QueryInput{TableName: aws.String(c.table), IndexName: aws.String(CatalogIndex),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(),
		ExpressionAttributeValues: expr.Values(), Limit: aws.Int32(req.Limit)}
	if req.Cursor != "" {
		last, err := c.decodeCursor(ctx, "", catalogCursorEntity, req.Cursor)
		if err != nil {
			return Page[catalog.Record]{}, err
		}
		in.ExclusiveStartKey, err = attributevalue.MarshalMap(map[string]string{
			"pk": catalogTenantPrefix + last, "sk": catalogProfile, CatalogIndexPK: catalogKindTenant, CatalogIndexSK: last})
		if err != nil {
			return Page[catalog.Record]{}, fmt.Errorf("marshal start key: %w", err)
		}
	}
	res, err := c.ddb.Query(ctx, in)
	if err != nil {
		return Page[catalog.Record]{}, fmt.Errorf("list tenants: %w", err)
	}
	var items []catalogItem
	if err := attributevalue.UnmarshalListOfMaps(res.Items, &items); err != nil {
		return Page[catalog.Record]{}, fmt.Errorf("unmarshal tenants: %w", err)
	}
	page := Page[catalog.Record]{Items: make([]catalog.Record, 0, len(items))}
	for _, it := range items {
		page.Items = append(page.Items, it.Record)
	}
	if len(res.LastEvaluatedKey) > 0 && len(items) > 0 {
		if page.Next, err = c.encodeCursor(ctx, "", catalogCursorEntity, items[len(items)-1].TenantID); err != nil {
			return Page[catalog.Record]{}, err
		}
	}
	return page, nil
}

// Lease gives owner the exclusive right to work on the tenant until now+ttl,
// unless another owner holds an unexpired lease (ErrLeased). The same owner
// may lease again (a retried call). Owners are per unit of work: the
// provisioner uses its process id and the message id, so two messages of one
// process exclude each other.
func (c *Catalog) Lease(ctx context.Context, tenantID, owner string, ttl time.Duration) error {
	now := c.now()
	cond := expression.AttributeExists(expression.Name(attrPK)).And(
		expression.Or(
			expression.AttributeNotExists(expression.Name(attrLeaseExpires)),
			expression.Name(attrLeaseExpires).LessThanEqual(expression.Value(now.UnixMilli())),
			expression.Name(attrLeaseOwner).Equal(expression.Value(owner)),
		))
	upd := expression.Set(expression.Name(attrLeaseOwner), expression.Value(owner)).
		Set(expression.Name(attrLeaseExpires), expression.Value(now.Add(ttl).UnixMilli()))
	return c.update(ctx, tenantID, cond, upd, ErrLeased)
}

// Renew extends owner's lease to now+ttl. It fails with ErrLeased when the
// lease is not owner's any more (it lapsed and another owner took it, or it
// was released).
func (c *Catalog) Renew(ctx context.Context, tenantID, owner string, ttl time.Duration) error {
	cond := expression.Name(attrLeaseOwner).Equal(expression.Value(owner))
	upd := expression.Set(expression.Name(attrLeaseExpires), expression.Value(c.now().Add(ttl).UnixMilli()))
	return c.update(ctx, tenantID, cond, upd, ErrLeased)
}

// Release ends owner's lease; a lease held by another owner is left alone.
func (c *Catalog) Release(ctx context.Context, tenantID, owner string) error {
	cond := expression.Name(attrLeaseOwner).Equal(expression.Value(owner))
	upd := expression.Remove(expression.Name(attrLeaseOwner)).Remove(expression.Name(attrLeaseExpires)).Remove(expression.Name(attrLeaseLegacy))
	err := c.update(ctx, tenantID, cond, upd, ErrLeased)
	if errors.Is(err, ErrLeased) {
		return nil // not ours any more: nothing to release
	}
	return err
}

func (c *Catalog) update(ctx context.Context, tenantID string, cond expression.ConditionBuilder, upd expression.UpdateBuilder, condErr error) error {
	_, err := updateWhen(ctx, c.ddb, c.table, catalogKey(tenantID), cond, upd, nil, "")
	if IsCondCheckFailed(err) {
		return fmt.Errorf("tenant %s: %w", tenantID, condErr)
	}
	if err != nil {
		return fmt.Errorf("update tenant %s: %w", tenantID, err)
	}
	return nil
}

// PendingEvents lists outbox events recorded before the given time, oldest
// first.
func (c *Catalog) PendingEvents(ctx context.Context, before time.Time, limit int32) ([]OutboxEvent, error) {
	expr, err := expression.NewBuilder().WithKeyCondition(
		expression.Key(attrPK).Equal(expression.Value(outboxPK)).
			And(expression.Key(attrSK).LessThan(expression.Value(before.UTC().Format(time.RFC3339Nano))))).Build()
	if err != nil {
		return nil, fmt.Errorf("build key condition: %w", err)
	}
	res, err := c.ddb.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(c.table), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), Limit: aws.Int32(limit), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	var evs []OutboxEvent
	if err := attributevalue.UnmarshalListOfMaps(res.Items, &evs); err != nil {
		return nil, fmt.Errorf("unmarshal outbox: %w", err)
	}
	return evs, nil
}

// EventPublished removes a published event from the outbox.
func (c *Catalog) EventPublished(ctx context.Context, ev OutboxEvent) error {
	av, err := attributevalue.MarshalMap(key{PK: outboxPK, SK: ev.SK})
	if err != nil {
		return fmt.Errorf("marshal key: %w", err)
	}
	if _, err := c.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(c.table), Key: av}); err != nil {
		return fmt.Errorf("delete outbox event %s: %w", ev.ID, err)
	}
	return nil
}
