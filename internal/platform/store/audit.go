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

	"github.com/tessera-saas/tessera/internal/platform/audit"
	"github.com/tessera-saas/tessera/internal/platform/entityid"
)

// Audit trails (internal/platform/audit). Each tenant's entries are one
// partition of the catalog table: pk AUDIT#<tenant>, sk <time>#<ULID>, the
// time in UTC with nine fraction digits (RFC 3339, fixed width, so that the
// sort key orders entries by time), and the catalog's TTL attribute set to
// the time plus the tier's retention. Every entry is put only if absent;
// nothing in the store updates or deletes one.
//
// Tenant routes write and read their tenant's trail with the tenant's own
// scoped session (TenantData: IAM lets it PutItem and Query only the
// partition AUDIT#<its tenantId tag>); operator routes and background steps
// with the function's own credentials (Catalog).

// AuditEntry is one entry of a tenant's audit trail.
type AuditEntry = audit.Entry

// AuditPrefix begins the partition key of every audit trail ("AUDIT#"):
// the infra app denies updates and deletes of those items to every role
// (dynamodb:LeadingKeys).
const AuditPrefix = auditPrefix

const auditCursorEntity = "AUDIT"

// auditTimeFormat is RFC 3339 with a fixed-width fraction: its strings sort
// as their times do (RFC3339Nano trims trailing zeros, and does not).
const auditTimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

func auditPK(tenantID string) string { return auditPrefix + tenantID }

// auditItem is an entry as stored.
type auditItem struct {
	key
	AuditEntry
}

// newAuditItem completes e for tenantID at now (its time, actor kind and
// expiry, when unset) and returns its item.
func newAuditItem(tenantID string, e AuditEntry, now time.Time) auditItem {
	e.TenantID = tenantID
	if e.At.IsZero() {
		e.At = now
	}
	e.At = e.At.UTC()
	if e.ActorKind == "" {
		e.ActorKind = audit.System
	}
	if e.Outcome == "" && e.ActorKind == audit.System {
		e.Outcome = audit.OutcomeOf(e.Action)
	}
	if e.ExpiresAt == 0 {
		e.ExpiresAt = audit.Expiry(e.At, e.Tier)
	}
	return auditItem{key: key{PK: auditPK(tenantID), SK: e.At.Format(auditTimeFormat) + "#" + entityid.New()}, AuditEntry: e}
}

// putAudit writes it if absent, with optFns (a tenant's credentials).
func putAudit(ctx context.Context, ddb DynamoDB, table string, it auditItem, optFns ...func(*dynamodb.Options)) error {
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return fmt.Errorf("marshal audit entry: %w", err)
	}
	expr, err := expression.NewBuilder().WithCondition(notExists).Build()
	if err != nil {
		return fmt.Errorf("build condition: %w", err)
	}
	_, err = ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: av,
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names()}, optFns...)
	if err != nil {
		return fmt.Errorf("audit entry of tenant %s: %w", it.TenantID, err)
	}
	return nil
}

// AppendAudit appends e to the trail of e.TenantID with the catalog's own
// credentials (operator routes; audit.Writer). Without e.Tier, the tier is
// read from the tenant's record, so that the entry gets its retention.
func (c *Catalog) AppendAudit(ctx context.Context, e AuditEntry) error {
	if e.TenantID == "" {
		return errors.New("store: audit entry without a tenant")
	}
	c.fillTier(ctx, e.TenantID, &e)
	return putAudit(ctx, c.ddb, c.table, newAuditItem(e.TenantID, e, c.now()))
}

// fillTier sets e.Tier, when unset and when an expiry is still to be
// chosen, from the tenant's record; a tenant without one keeps the
// longest retention (audit.Retention).
func (c *Catalog) fillTier(ctx context.Context, tenantID string, e *AuditEntry) {
	if e.Tier != "" || e.ExpiresAt != 0 {
		return
	}
	if rec, err := c.GetTenant(ctx, tenantID); err == nil {
		e.Tier = rec.Tier
	}
}

// ErrAuditNotConfigured: the store was built without the catalog table
// (WithCatalogTable), so it cannot reach audit trails.
var ErrAuditNotConfigured = errors.New("store: no audit table configured")

// AppendAudit appends e to the tenant's own trail in the tenant's scoped
// session (audit.Writer of tenant routes); e.TenantID is the scope's.
func (d TenantData) AppendAudit(ctx context.Context, e AuditEntry) error {
	s, sc, err := d.open(ctx)
	if err != nil {
		return err
	}
	if s.catalogTable == "" {
		return ErrAuditNotConfigured
	}
	if e.Tier == "" {
		e.Tier = d.scope.Tier()
	}
	return putAudit(ctx, s.ddb, s.catalogTable, newAuditItem(sc.tenantID, e, s.now()), sc.opts)
}

// AuditQuery selects a page of a trail: entries at From or later and
// before To (zero: unbounded), oldest first, up to Limit after Cursor.
type AuditQuery struct {
	From, To time.Time
	Cursor   string
	Limit    int32
}

// Audit returns a page of the tenant's own trail, read in its scoped
// session.
func (d TenantData) Audit(ctx context.Context, q AuditQuery) (Page[AuditEntry], error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return Page[AuditEntry]{}, err
	}
	if s.catalogTable == "" {
		return Page[AuditEntry]{}, ErrAuditNotConfigured
	}
	return queryAudit(ctx, s.ddb, s.cursors, s.catalogTable, sc.tenantID, q, sc.opts)
}

// Audit returns a page of a tenant's trail (operators), oldest first.
func (c *Catalog) Audit(ctx context.Context, tenantID string, from, to time.Time, cursor string, limit int) (Page[AuditEntry], error) {
	return queryAudit(ctx, c.ddb, c.cursors, c.table, tenantID, AuditQuery{From: from, To: to, Cursor: cursor, Limit: int32(limit)})
}

// AuditTrail returns a tenant's whole trail, oldest first, following the
// pages to the end.
func (c *Catalog) AuditTrail(ctx context.Context, tenantID string) ([]AuditEntry, error) {
	var out []AuditEntry
	q := AuditQuery{Limit: 100}
	for {
		page, err := queryAudit(ctx, c.ddb, c.cursors, c.table, tenantID, q)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.Next == "" {
			return out, nil
		}
		q.Cursor = page.Next
	}
}

// queryAudit reads one page of tenantID's trail: sort keys from q.From's
// (inclusive) to q.To's (exclusive: "<to>#<id>" sorts after "<to>").
func queryAudit(ctx context.Context, ddb DynamoDB, cur cursors, table, tenantID string, q AuditQuery, optFns ...func(*dynamodb.Options)) (Page[AuditEntry], error) {
	lo, hi := "0", "~" // every time, as the format writes it, sorts between
	if !q.From.IsZero() {
		lo = q.From.UTC().Format(auditTimeFormat)
	}
	if !q.To.IsZero() {
		hi = q.To.UTC().Format(auditTimeFormat)
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	expr, err := expression.NewBuilder().WithKeyCondition(expression.Key(attrPK).Equal(expression.Value(auditPK(tenantID))).
		And(expression.Key(attrSK).Between(expression.Value(lo), expression.Value(hi)))).Build()
	if err != nil {
		return Page[AuditEntry]{}, fmt.Errorf("build key condition: %w", err)
	}
	in := &dynamodb.QueryInput{TableName: aws.String(table), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), Limit: aws.Int32(q.Limit)}
	if q.Cursor != "" {
		last, err := cur.decodeCursor(ctx, tenantID, auditCursorEntity, q.Cursor)
		if err != nil {
			return Page[AuditEntry]{}, err
		}
		if last < lo || last > hi {
			return Page[AuditEntry]{}, fmt.Errorf("%w: outside from and to", ErrInvalidCursor)
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			attrPK: &types.AttributeValueMemberS{Value: auditPK(tenantID)}, attrSK: &types.AttributeValueMemberS{Value: last}}
	}
	res, err := ddb.Query(ctx, in, optFns...)
	if err != nil {
		return Page[AuditEntry]{}, fmt.Errorf("audit of tenant %s: %w", tenantID, err)
	}
	var items []auditItem
	if err := attributevalue.UnmarshalListOfMaps(res.Items, &items); err != nil {
		return Page[AuditEntry]{}, fmt.Errorf("unmarshal audit entries: %w", err)
	}
	page := Page[AuditEntry]{Items: make([]AuditEntry, 0, len(items))}
	for _, it := range items {
		page.Items = append(page.Items, it.AuditEntry)
	}
	if len(res.LastEvaluatedKey) > 0 && len(items) > 0 {
		if page.Next, err = cur.encodeCursor(ctx, tenantID, auditCursorEntity, items[len(items)-1].SK); err != nil {
			return Page[AuditEntry]{}, err
		}
	}
	return page, nil
}

// marking is the DynamoDB client of a store or catalog: each write that
// succeeds marks the request in ctx as having changed something
// (audit.Mark), so that a failed request that wrote nothing leaves no
// audit entry and one that did leaves one.
type marking struct{ DynamoDB }

func (m marking) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	out, err := m.DynamoDB.PutItem(ctx, in, optFns...)
	markIf(ctx, err)
	return out, err
}

func (m marking) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	out, err := m.DynamoDB.UpdateItem(ctx, in, optFns...)
	markIf(ctx, err)
	return out, err
}

func (m marking) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	out, err := m.DynamoDB.DeleteItem(ctx, in, optFns...)
	markIf(ctx, err)
	return out, err
}

func (m marking) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	out, err := m.DynamoDB.TransactWriteItems(ctx, in, optFns...)
	markIf(ctx, err)
	return out, err
}

func (m marking) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	out, err := m.DynamoDB.BatchWriteItem(ctx, in, optFns...)
	markIf(ctx, err)
	return out, err
}

func markIf(ctx context.Context, err error) {
	if err == nil {
		audit.Mark(ctx)
	}
}

// marked wraps ddb in marking, once.
func marked(ddb DynamoDB) DynamoDB {
	if _, ok := ddb.(marking); ok || ddb == nil {
		return ddb
	}
	return marking{ddb}
}

// auditSide is the transaction item of an audit entry that goes with a
// change of tenantID: stamped as ctx's request's entry when it is one
// (audit.Stamp), with the tenant's tier read for its retention when unset.
func (c *Catalog) auditSide(ctx context.Context, tenantID string, e *AuditEntry) (types.TransactWriteItem, error) {
	audit.Stamp(ctx, tenantID, e)
	c.fillTier(ctx, tenantID, e)
	it := newAuditItem(tenantID, *e, c.now().UTC())
	*e = it.AuditEntry
	return putIfAbsent(c.table, it)
}

// committed records that the transaction holding e succeeded.
func committed(ctx context.Context, e *AuditEntry) { audit.Committed(ctx, e) }
