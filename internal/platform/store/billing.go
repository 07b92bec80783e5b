package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/invoice"
	"github.com/tessera-saas/tessera/internal/platform/plan"
)

// What billing keeps in the catalog table, besides the hourly usage
// (usage.go):
//
//   - the tier history: pk TIERS#<tenant>, sk <RFC 3339 time of the change>,
//     one item per tier a tenant was created with or changed to, written in
//     the transaction of the create or change (Catalog.Create, Apply) and
//     never rewritten (a conditional put);
//   - daily storage samples: pk USAGE#<tenant>, sk STORAGE#<YYYY-MM-DD>, the
//     stored items counted on that UTC day (Ledger.RecordStorage);
//   - report marks: pk USAGE#<tenant>, sk REPORTED#<meter>#<RFC 3339 hour>,
//     one per hour reported to the payment provider, written conditionally
//     after the report (Ledger.MarkReported).
//
// Both partitions are the tenant's own: TenantDataAccessRole lets a
// tenant's session Query exactly USAGE#<its id> and TIERS#<its id> of the
// catalog table (access.DataAccessPolicy), which is how the api function
// reads a tenant's invoice inputs (TenantData.BillingInputs).
const (
	// TiersPrefix begins the partition key of a tenant's tier history.
	TiersPrefix    = "TIERS#"
	storagePrefix  = "STORAGE#"
	reportedPrefix = "REPORTED#"
)

type tierItem struct {
	key
	catalog.TierChange
}

// tierHistoryPut is the conditional put of one tier-history entry.
func tierHistoryPut(table string, ch catalog.TierChange) (types.TransactWriteItem, error) {
	ch.At = ch.At.UTC()
	return putIfAbsent(table, tierItem{key: key{PK: TiersPrefix + ch.TenantID, SK: ch.At.Format(time.RFC3339Nano)}, TierChange: ch})
}

// TierHistory lists a tenant's tier history, oldest first (see
// TierHistoryOf for tenants older than it).
func (c *Catalog) TierHistory(ctx context.Context, tenantID string) ([]catalog.TierChange, error) {
	return queryPartition[catalog.TierChange](ctx, c.ddb, c.table, TiersPrefix+tenantID, nil, nil)
}

// TierHistoryOf completes a tenant's recorded history with its record: a
// tenant created before the history was recorded has no creation entry, so
// its record's creation time, with the tier before its first recorded
// change (or its current tier, when none), stands for it.
func TierHistoryOf(rec catalog.Record, recorded []catalog.TierChange) []catalog.TierChange {
	h := slices.Clone(recorded)
	slices.SortStableFunc(h, func(a, b catalog.TierChange) int { return a.At.Compare(b.At) })
	switch {
	case len(h) == 0:
		return []catalog.TierChange{catalog.InitialTier(rec)}
	case slices.ContainsFunc(h, func(c catalog.TierChange) bool { return c.From == "" }):
		return h // the creation entry is there
	}
	first := catalog.InitialTier(rec)
	first.To = h[0].From
	if first.At.After(h[0].At) {
		first.At = h[0].At
	}
	return append([]catalog.TierChange{first}, h...)
}

// HourTotal is a tenant's requests of one UTC hour, summed over writers.
type HourTotal struct {
	Hour     time.Time
	Requests int64
}

// Hourly returns a tenant's request totals per hour of [from, to), oldest
// first (hours without usage are absent).
func (l *Ledger) Hourly(ctx context.Context, tenantID string, from, to time.Time) ([]HourTotal, error) {
	return hourly(ctx, l.ddb, l.table, tenantID, from, to, nil)
}

func hourly(ctx context.Context, ddb DynamoDB, table, tenantID string, from, to time.Time, opt func(*dynamodb.Options)) ([]HourTotal, error) {
	from, to = from.UTC(), to.UTC()
	between := expression.Key(attrSK).Between(expression.Value(from.Format(time.RFC3339)), expression.Value(to.Format(time.RFC3339)))
	items, err := queryPartition[usageItem](ctx, ddb, table, UsagePrefix+tenantID, &between, opt)
	if err != nil {
		return nil, fmt.Errorf("hourly usage of %s: %w", tenantID, err)
	}
	sums := map[time.Time]int64{}
	for _, it := range items {
		h := it.Hour.UTC()
		if h.Before(from) || !h.Before(to) { // Between is inclusive; [from, to) is not
			continue
		}
		sums[h] += it.Requests
	}
	out := make([]HourTotal, 0, len(sums))
	for h, n := range sums {
		out = append(out, HourTotal{Hour: h, Requests: n})
	}
	slices.SortFunc(out, func(a, b HourTotal) int { return a.Hour.Compare(b.Hour) })
	return out, nil
}

// StorageSample is a tenant's stored items as counted on one UTC day.
type StorageSample struct {
	TenantID  string    `dynamodbav:"tenantId" json:"tenantId"`
	Day       string    `dynamodbav:"day" json:"day"` // YYYY-MM-DD
	Items     int64     `dynamodbav:"items" json:"items"`
	SampledAt time.Time `dynamodbav:"sampledAt" json:"sampledAt"`
}

type storageItem struct {
	key
	StorageSample
}

// RecordStorage writes the day's sample of a tenant's stored items; a later
// sample of the same day replaces it.
func (l *Ledger) RecordStorage(ctx context.Context, s StorageSample) error {
	av, err := attributevalue.MarshalMap(storageItem{key: key{PK: UsagePrefix + s.TenantID, SK: storagePrefix + s.Day}, StorageSample: s})
	if err != nil {
		return fmt.Errorf("marshal storage sample: %w", err)
	}
	if _, err := l.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(l.table), Item: av}); err != nil {
		return fmt.Errorf("record storage of %s: %w", s.TenantID, err)
	}
	return nil
}

// StorageSamples lists a tenant's samples of the days in [from, to).
func (l *Ledger) StorageSamples(ctx context.Context, tenantID string, from, to time.Time) ([]StorageSample, error) {
	return storageSamples(ctx, l.ddb, l.table, tenantID, from, to, nil)
}

func storageSamples(ctx context.Context, ddb DynamoDB, table, tenantID string, from, to time.Time, opt func(*dynamodb.Options)) ([]StorageSample, error) {
	lo, hi := storagePrefix+from.UTC().Format(time.DateOnly), storagePrefix+to.UTC().Format(time.DateOnly)
	between := expression.Key(attrSK).Between(expression.Value(lo), expression.Value(hi))
	items, err := queryPartition[StorageSample](ctx, ddb, table, UsagePrefix+tenantID, &between, opt)
	if err != nil {
		return nil, fmt.Errorf("storage samples of %s: %w", tenantID, err)
	}
	return slices.DeleteFunc(items, func(s StorageSample) bool { return storagePrefix+s.Day >= hi }), nil
}

// ReportMark records that one hour of a tenant's usage on one meter was
// reported to the payment provider: the event's identifier and value, and
// the provider's answer.
type ReportMark struct {
	TenantID   string    `dynamodbav:"tenantId" json:"tenantId"`
	Meter      string    `dynamodbav:"meter" json:"meter"`
	Hour       time.Time `dynamodbav:"hour" json:"hour"`
	Identifier string    `dynamodbav:"identifier" json:"identifier"`
	Value      int64     `dynamodbav:"value" json:"value"`
	// ProviderID and ProviderCreated are the provider's answer (Stripe's
	// meter event identifier and creation time).
	ProviderID      string    `dynamodbav:"providerId,omitempty" json:"providerId,omitempty"`
	ProviderCreated time.Time `dynamodbav:"providerCreated,omitempty" json:"providerCreated,omitzero"`
	ReportedAt      time.Time `dynamodbav:"reportedAt" json:"reportedAt"`
}

func markKey(tenantID, meter string, hour time.Time) key {
	return key{PK: UsagePrefix + tenantID, SK: reportedPrefix + meter + "#" + hour.UTC().Format(time.RFC3339)}
}

type markItem struct {
	key
	ReportMark
}

// MarkReported writes the mark of m's hour unless one exists (ErrExists):
// the first report of an hour is the one on record.
func (l *Ledger) MarkReported(ctx context.Context, m ReportMark) error {
	m.Hour = m.Hour.UTC()
	av, err := attributevalue.MarshalMap(markItem{key: markKey(m.TenantID, m.Meter, m.Hour), ReportMark: m})
	if err != nil {
		return fmt.Errorf("marshal report mark: %w", err)
	}
	expr, err := expression.NewBuilder().WithCondition(notExists).Build()
	if err != nil {
		return fmt.Errorf("build condition: %w", err)
	}
	_, err = l.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(l.table), Item: av,
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	if IsCondCheckFailed(err) {
		return fmt.Errorf("mark %s %s %s: %w", m.TenantID, m.Meter, m.Hour.Format(time.RFC3339), ErrExists)
	}
	if err != nil {
		return fmt.Errorf("mark %s %s %s: %w", m.TenantID, m.Meter, m.Hour.Format(time.RFC3339), err)
	}
	return nil
}

// Reported lists the marks of a tenant's meter for the hours in [from, to).
func (l *Ledger) Reported(ctx context.Context, tenantID, meter string, from, to time.Time) ([]ReportMark, error) {
	lo, hi := markKey(tenantID, meter, from).SK, markKey(tenantID, meter, to).SK
	between := expression.Key(attrSK).Between(expression.Value(lo), expression.Value(hi))
	items, err := queryPartition[ReportMark](ctx, l.ddb, l.table, UsagePrefix+tenantID, &between, nil)
	if err != nil {
		return nil, fmt.Errorf("report marks of %s: %w", tenantID, err)
	}
	return slices.DeleteFunc(items, func(m ReportMark) bool { return !m.Hour.Before(to.UTC()) }), nil
}

// BillingInputs are what a tenant's invoice is computed from.
type BillingInputs struct {
	Tiers   []catalog.TierChange
	Hours   []HourTotal
	Storage []StorageSample
}

// InvoiceInput is the input of rec's tenant's invoice of month (its first
// instant), at the plan's prices, computed at now: the tier history
// completed with the record (TierHistoryOf).
func (b BillingInputs) InvoiceInput(month time.Time, rec catalog.Record, now time.Time) invoice.Input {
	out := invoice.Input{Month: month, TenantID: rec.TenantID, Tiers: TierHistoryOf(rec, b.Tiers), Prices: plan.Prices(), Now: now}
	for _, h := range b.Hours {
		out.Hours = append(out.Hours, invoice.HourRequests{Hour: h.Hour, Requests: h.Requests})
	}
	for _, s := range b.Storage {
		if d, err := time.Parse(time.DateOnly, s.Day); err == nil {
			out.Storage = append(out.Storage, invoice.StorageSample{Day: d, Items: s.Items})
		}
	}
	return out
}

// ReadBillingInputs reads what BillingInputs does with the catalog's and
// the ledger's own credentials (the operator's CLI; control plane).
func ReadBillingInputs(ctx context.Context, c *Catalog, l *Ledger, tenantID string, from, to time.Time) (BillingInputs, error) {
	var in BillingInputs
	var err error
	if in.Tiers, err = c.TierHistory(ctx, tenantID); err != nil {
		return in, fmt.Errorf("tier history of %s: %w", tenantID, err)
	}
	if in.Hours, err = l.Hourly(ctx, tenantID, from, to); err != nil {
		return in, err
	}
	in.Storage, err = l.StorageSamples(ctx, tenantID, from, to)
	return in, err
}

// BillingInputs reads the tenant's tier history, its hourly usage and its
// storage samples of [from, to) from the catalog table named by
// WithCatalogTable, with the tenant's own scoped credentials: its session
// may read its own USAGE# and TIERS# partitions and no other tenant's.
func (d TenantData) BillingInputs(ctx context.Context, from, to time.Time) (BillingInputs, error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return BillingInputs{}, err
	}
	if s.catalogTable == "" {
		return BillingInputs{}, fmt.Errorf("billing inputs of %s: the store has no catalog table (WithCatalogTable)", sc.tenantID)
	}
	var in BillingInputs
	if in.Tiers, err = queryPartition[catalog.TierChange](ctx, s.ddb, s.catalogTable, TiersPrefix+sc.tenantID, nil, sc.opts); err != nil {
		return in, fmt.Errorf("tier history of %s: %w", sc.tenantID, err)
	}
	if in.Hours, err = hourly(ctx, s.ddb, s.catalogTable, sc.tenantID, from, to, sc.opts); err != nil {
		return in, err
	}
	in.Storage, err = storageSamples(ctx, s.ddb, s.catalogTable, sc.tenantID, from, to, sc.opts)
	return in, err
}

// queryPartition reads every item of partition pk (with sk, when set, as
// the sort key condition), following pages, with a consistent read.
func queryPartition[T any](ctx context.Context, ddb DynamoDB, table, pk string, sk *expression.KeyConditionBuilder, opt func(*dynamodb.Options)) ([]T, error) {
	cond := expression.Key(attrPK).Equal(expression.Value(pk))
	if sk != nil {
		cond = cond.And(*sk)
	}
	expr, err := expression.NewBuilder().WithKeyCondition(cond).Build()
	if err != nil {
		return nil, fmt.Errorf("build key condition: %w", err)
	}
	var opts []func(*dynamodb.Options)
	if opt != nil {
		opts = append(opts, opt)
	}
	p := dynamodb.NewQueryPaginator(ddb, &dynamodb.QueryInput{TableName: aws.String(table), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ConsistentRead: aws.Bool(true)})
	var out []T
	for p.HasMorePages() {
		page, err := p.NextPage(ctx, opts...)
		if err != nil {
			return nil, err
		}
		var items []T
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &items); err != nil {
			return nil, fmt.Errorf("unmarshal: %w", err)
		}
		out = append(out, items...)
	}
	return out, nil
}

// SetBillingCustomer records the tenant's customer at the payment provider
// (catalog.Record.BillingCustomerID); empty removes it. The change and its
// audit entry (actor: who ran it) are one transaction.
func (c *Catalog) SetBillingCustomer(ctx context.Context, tenantID, customerID, actor string) error {
	upd := expression.Set(expression.Name("updatedAt"), expression.Value(c.now().UTC())).
		Add(expression.Name(attrVersion), expression.Value(1))
	detail := "billing customer removed"
	if customerID == "" {
		upd = upd.Remove(expression.Name("billingCustomerId"))
	} else {
		upd = upd.Set(expression.Name("billingCustomerId"), expression.Value(customerID))
		detail = "billing customer " + customerID
	}
	expr, err := expression.NewBuilder().WithCondition(expression.AttributeExists(expression.Name(attrPK))).WithUpdate(upd).Build()
	if err != nil {
		return fmt.Errorf("build billing customer update: %w", err)
	}
	av, err := attributevalue.MarshalMap(catalogKey(tenantID))
	if err != nil {
		return fmt.Errorf("marshal key: %w", err)
	}
	items := []types.TransactWriteItem{{Update: &types.Update{
		TableName: aws.String(c.table), Key: av,
		ConditionExpression: expr.Condition(), UpdateExpression: expr.Update(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}}}
	entry := &AuditEntry{Action: "set-billing-customer", Actor: actor, Detail: detail}
	extra, err := c.sideItems(ctx, tenantID, nil, entry)
	if err != nil {
		return err
	}
	_, err = c.ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append(items, extra...)})
	if failedAt(cancellation(err), 0) {
		return fmt.Errorf("tenant %s: %w", tenantID, catalog.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("set billing customer of %s: %w", tenantID, err)
	}
	committed(ctx, entry)
	return nil
}
