package store

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/features"
)

// FlagsPartition is the catalog partition of feature flag definitions (pk
// FLAGS, sk <flag name>): one item per flag, whatever the number of
// tenants (their overrides are on their records). The infra app lets the
// functions that evaluate flags Query it, and nothing else of the catalog
// beyond their reads of tenant records.
const FlagsPartition = "FLAGS"

type flagItem struct {
	key
	features.Flag
}

// ListFlags returns the stored flag definitions (one Query, every page).
func (c *Catalog) ListFlags(ctx context.Context) ([]features.Flag, error) {
	expr, err := expression.NewBuilder().WithKeyCondition(expression.Key(attrPK).Equal(expression.Value(FlagsPartition))).Build()
	if err != nil {
		return nil, fmt.Errorf("build key condition: %w", err)
	}
	var out []features.Flag
	p := dynamodb.NewQueryPaginator(c.ddb, &dynamodb.QueryInput{TableName: aws.String(c.table), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list flags: %w", err)
		}
		var items []flagItem
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &items); err != nil {
			return nil, fmt.Errorf("unmarshal flags: %w", err)
		}
		for _, it := range items {
			out = append(out, it.Flag)
		}
	}
	return out, nil
}

// PutFlag stores f (validated by the caller) if the stored definition is
// still at version (0: none is stored; a built-in may be replaced so), and
// returns it at version + 1; ErrVersionConflict otherwise.
func (c *Catalog) PutFlag(ctx context.Context, f features.Flag, version int64, by string) (features.Flag, error) {
	f.Version, f.UpdatedAt, f.UpdatedBy = version+1, c.now().UTC(), by
	cond := notExists
	if version > 0 {
		cond = expression.Name(attrVersion).Equal(expression.Value(version))
	}
	put, err := putWhen(c.table, flagItem{key: key{PK: FlagsPartition, SK: f.Name}, Flag: f}, cond)
	if err != nil {
		return features.Flag{}, err
	}
	_, err = c.ddb.PutItem(ctx, putInput(put))
	if IsCondCheckFailed(err) {
		return features.Flag{}, fmt.Errorf("put flag %s at version %d: %w", f.Name, version, ErrVersionConflict)
	}
	if err != nil {
		return features.Flag{}, fmt.Errorf("put flag %s: %w", f.Name, err)
	}
	return f, nil
}

// SetFlagOverride sets (or, with clear, removes) the tenant's override of
// flag, with its audit entry, in one transaction conditioned on the
// record's version, retrying when the record changed meanwhile. It
// returns the record as it is afterwards; catalog.ErrNotFound for no such
// tenant.
func (c *Catalog) SetFlagOverride(ctx context.Context, tenantID, flag string, value any, clear bool, audit *AuditEntry) (catalog.Record, error) {
	for attempt := 0; ; attempt++ {
		cur, err := c.getItem(ctx, tenantID, true)
		if err != nil {
			return catalog.Record{}, err
		}
		next := maps.Clone(cur.FlagOverrides)
		if next == nil {
			next = map[string]any{}
		}
		if clear {
			delete(next, flag)
		} else {
			next[flag] = value
		}
		a := *audit
		rec, err := c.Apply(ctx, tenantID, Change{FlagOverrides: next, ReplaceFlagOverrides: true, IfVersion: cur.Version}, nil, &a)
		if errors.Is(err, ErrStatusChanged) && attempt < 3 {
			continue
		}
		return rec, err
	}
}

// putInput is the PutItem of a transaction's Put.
func putInput(p types.TransactWriteItem) *dynamodb.PutItemInput {
	return &dynamodb.PutItemInput{TableName: p.Put.TableName, Item: p.Put.Item, ConditionExpression: p.Put.ConditionExpression,
		ExpressionAttributeNames: p.Put.ExpressionAttributeNames, ExpressionAttributeValues: p.Put.ExpressionAttributeValues}
}
