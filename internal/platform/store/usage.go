package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/platform/metering"
)

// The usage ledger lives in the catalog table: one item per tenant, UTC hour
// and writer (a Lambda environment), pk USAGE#<tenant>, sk <hour>#<writer>,
// holding that writer's cumulative totals for the hour. Writing absolute
// totals makes every write idempotent: a retried or repeated flush rewrites
// the same or a larger figure, and a stale one is refused by its condition.
// A tenant's usage for an hour is the sum over writers. UsagePrefix begins
// every ledger key: IAM lets the api function write catalog items only under
// it (infra).
const UsagePrefix = "USAGE#"

// Ledger records and reads per-tenant hourly usage.
type Ledger struct {
	ddb   DynamoDB
	table string
}

// NewLedger returns the ledger stored in the catalog table.
func NewLedger(ddb DynamoDB, table string) *Ledger { return &Ledger{ddb: ddb, table: table} }

type usageItem struct {
	key
	TenantID  string    `dynamodbav:"tenantId"`
	Hour      time.Time `dynamodbav:"hour"`
	Writer    string    `dynamodbav:"writer"`
	Requests  int64     `dynamodbav:"requests"`
	RCU       float64   `dynamodbav:"readCapacityUnits"`
	WCU       float64   `dynamodbav:"writeCapacityUnits"`
	UpdatedAt time.Time `dynamodbav:"updatedAt"`
}

// ledgerWriters bounds the PutItems of one Record in flight at once. A
// Lambda environment's flush at shutdown has 400 ms (SIGKILL follows SIGTERM
// by about 500), in which 16 writers at ~10 ms a write settle about 600
// (tenant, hour) totals; one after another, 40.
const ledgerWriters = 16

// Record writes writer's cumulative totals, up to ledgerWriters at a time.
// It returns the entries that are settled (in no particular order): written,
// or skipped because a larger total is stored already. When ctx ends, the
// writes not yet made are not settled and the error says so.
func (l *Ledger) Record(ctx context.Context, writer string, usages []metering.Usage) ([]metering.Usage, error) {
	var (
		mu      sync.Mutex
		written []metering.Usage
		failed  int
		first   error
		wg      sync.WaitGroup
	)
	fail := func(n int, err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
		}
		failed += n
	}
	sem := make(chan struct{}, ledgerWriters)
	for i, u := range usages {
		if ctx.Err() == nil {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
			}
		}
		if err := ctx.Err(); err != nil {
			fail(len(usages)-i, fmt.Errorf("record usage: %w", err))
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := l.record(ctx, writer, u); err != nil {
				fail(1, err)
				return
			}
			mu.Lock()
			written = append(written, u)
			mu.Unlock()
		})
	}
	wg.Wait()
	if first != nil {
		return written, fmt.Errorf("%d of %d usage totals not written, first: %w", failed, len(usages), first)
	}
	return written, nil
}

// record writes one cumulative total, unless a larger one is stored.
func (l *Ledger) record(ctx context.Context, writer string, u metering.Usage) error {
	hour := u.Hour.UTC().Truncate(time.Hour)
	av, err := attributevalue.MarshalMap(usageItem{key: key{PK: UsagePrefix + u.TenantID, SK: hour.Format(time.RFC3339) + "#" + writer},
		TenantID: u.TenantID, Hour: hour, Writer: writer, Requests: u.Requests, RCU: u.ReadCapacityUnits, WCU: u.WriteCapacityUnits, UpdatedAt: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("marshal usage: %w", err)
	}
	expr, err := expression.NewBuilder().WithCondition(expression.Or(
		expression.AttributeNotExists(expression.Name(attrPK)),
		expression.Name("requests").LessThanEqual(expression.Value(u.Requests)))).Build()
	if err != nil {
		return fmt.Errorf("build condition: %w", err)
	}
	_, err = l.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(l.table), Item: av,
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	if err != nil && !IsCondCheckFailed(err) { // a failed condition: a newer total is stored already
		return fmt.Errorf("record usage of %s: %w", u.TenantID, err)
	}
	return nil
}

// Totals sums a tenant's usage over the hours in [from, to).
func (l *Ledger) Totals(ctx context.Context, tenantID string, from, to time.Time) (metering.Usage, error) {
	total := metering.Usage{TenantID: tenantID, Hour: from.UTC().Truncate(time.Hour)}
	expr, err := expression.NewBuilder().WithKeyCondition(
		expression.Key(attrPK).Equal(expression.Value(UsagePrefix + tenantID)).
			And(expression.Key(attrSK).Between(expression.Value(from.UTC().Format(time.RFC3339)), expression.Value(to.UTC().Format(time.RFC3339))))).Build()
	if err != nil {
		return total, fmt.Errorf("build key condition: %w", err)
	}
	p := dynamodb.NewQueryPaginator(l.ddb, &dynamodb.QueryInput{TableName: aws.String(l.table), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return total, fmt.Errorf("usage of %s: %w", tenantID, err)
		}
		var items []usageItem
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &items); err != nil {
			return total, fmt.Errorf("unmarshal usage: %w", err)
		}
		for _, it := range items {
			if !it.Hour.Before(to) { // Between is inclusive; [from, to) is not
				continue
			}
			total.Requests += it.Requests
			total.ReadCapacityUnits += it.RCU
			total.WriteCapacityUnits += it.WCU
		}
	}
	return total, nil
}

// CountItems counts the caller's tenant's stored items (its own partitions
// only, with its scoped credentials).
func (d TenantData) CountItems(ctx context.Context) (int64, error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, entity := range DataPartitions {
		expr, err := expression.NewBuilder().WithKeyCondition(expression.Key(attrPK).Equal(expression.Value(partitionKey(sc.tenantID, entity)))).Build()
		if err != nil {
			return 0, fmt.Errorf("build key condition: %w", err)
		}
		p := dynamodb.NewQueryPaginator(queryOnly{s.ddb, sc}, &dynamodb.QueryInput{TableName: aws.String(sc.table), Select: types.SelectCount,
			KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return 0, fmt.Errorf("count %s: %w", entity, err)
			}
			n += int64(page.Count)
		}
	}
	return n, nil
}
