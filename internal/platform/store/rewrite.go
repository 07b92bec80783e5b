package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The raw item access of data migrations (internal/control/migrations, run
// by internal/control/fleet): a tenant's items read from a checkpoint and
// rewritten item by item, each rewrite one transaction conditioned on what
// the migration read, so a concurrent write of the tenant is never
// overwritten (the migration reads the item again and decides anew).

// Op is one write of a Rewrite: the put of Put, or the delete of the item
// at the key of Delete, on the condition that the item is as Expect says.
type Op struct {
	Put    Item
	Delete Item
	// Expect: each attribute must hold the given value, or, for a nil
	// value, must be absent.
	Expect map[string]types.AttributeValue
	// Absent: the item must not exist (a put of a new item).
	Absent bool
}

// ErrRewriteConflict: a Rewrite's condition failed, and nothing was
// written. The error is a *RewriteConflict, which names the op.
var ErrRewriteConflict = errors.New("store: the item changed since it was read")

// RewriteConflict is a Rewrite whose op Op found its item otherwise than
// expected.
type RewriteConflict struct{ Op int }

func (e *RewriteConflict) Error() string {
	return fmt.Sprintf("rewrite op %d: %v", e.Op, ErrRewriteConflict)
}

// Is makes errors.Is(err, ErrRewriteConflict) hold.
func (e *RewriteConflict) Is(target error) bool { return target == ErrRewriteConflict }

// Rewrite applies ops in one transaction with the tenant's credentials
// (fenced while the tenant migrates between tiers, like every write). Every
// item and key must be in one of the tenant's own partitions
// (ErrForeignItem, and nothing is written); a failed condition is a
// *RewriteConflict.
func (d TenantData) Rewrite(ctx context.Context, ops ...Op) error {
	s, sc, err := d.open(ctx)
	if err != nil {
		return err
	}
	if len(ops) == 0 {
		return nil
	}
	items := make([]types.TransactWriteItem, 0, len(ops))
	for i, op := range ops {
		it, err := op.transactItem(sc)
		if err != nil {
			return fmt.Errorf("rewrite op %d: %w", i, err)
		}
		items = append(items, it)
	}
	err = s.transact(ctx, sc, items...)
	reasons := cancellation(err)
	for i := range ops {
		if failedAt(reasons, i) {
			return &RewriteConflict{Op: i}
		}
	}
	if err != nil {
		return fmt.Errorf("rewrite: %w", err)
	}
	return nil
}

func (op Op) transactItem(sc scope) (types.TransactWriteItem, error) {
	target := op.Put
	if (op.Put == nil) == (op.Delete == nil) {
		return types.TransactWriteItem{}, errors.New("an op puts an item or deletes one")
	}
	if target == nil {
		target = op.Delete
	}
	if _, ok := PartitionOf(sc.tenantID, target); !ok {
		return types.TransactWriteItem{}, fmt.Errorf("%v: %w", target[attrPK], ErrForeignItem)
	}
	if _, ok := target[attrSK].(*types.AttributeValueMemberS); !ok {
		return types.TransactWriteItem{}, errors.New("the item has no sort key")
	}
	var cond expression.ConditionBuilder
	conds := 0
	and := func(c expression.ConditionBuilder) {
		if conds == 0 {
			cond = c
		} else {
			cond = cond.And(c)
		}
		conds++
	}
	if op.Absent {
		and(expression.AttributeNotExists(expression.Name(attrPK)))
	} else {
		and(expression.AttributeExists(expression.Name(attrPK)))
	}
	for name, v := range op.Expect {
		if v == nil {
			and(expression.AttributeNotExists(expression.Name(name)))
		} else {
			and(expression.Name(name).Equal(expression.Value(v)))
		}
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("build condition: %w", err)
	}
	if op.Put != nil {
		return types.TransactWriteItem{Put: &types.Put{TableName: aws.String(sc.table), Item: op.Put,
			ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(),
			ExpressionAttributeValues: expr.Values()}}, nil
	}
	return types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(sc.table), Key: KeyOf(op.Delete),
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(),
		ExpressionAttributeValues: expr.Values()}}, nil
}

// ScanFrom calls fn with every page of the tenant's items in partition,
// in key order, starting after the item whose sort key is after (all of
// them when after is empty): the walk of a data migration, which resumes
// from its checkpoint. Reads are consistent.
func (d TenantData) ScanFrom(ctx context.Context, partition, after string, pageSize int32, fn func(items []Item) error) error {
	s, sc, err := d.open(ctx)
	if err != nil {
		return err
	}
	pk := partitionKey(sc.tenantID, partition)
	expr, err := expression.NewBuilder().WithKeyCondition(expression.Key(attrPK).Equal(expression.Value(pk))).Build()
	if err != nil {
		return fmt.Errorf("build key condition: %w", err)
	}
	in := &dynamodb.QueryInput{TableName: aws.String(sc.table),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(),
		ExpressionAttributeValues: expr.Values(), ConsistentRead: aws.Bool(true)}
	if pageSize > 0 {
		in.Limit = aws.Int32(pageSize)
	}
	if after != "" {
		in.ExclusiveStartKey = Item{attrPK: &types.AttributeValueMemberS{Value: pk}, attrSK: &types.AttributeValueMemberS{Value: after}}
	}
	p := dynamodb.NewQueryPaginator(queryOnly{s.ddb, sc}, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("read %s of tenant %s: %w", partition, sc.tenantID, err)
		}
		if len(page.Items) == 0 {
			continue
		}
		if err := fn(page.Items); err != nil {
			return err
		}
	}
	return nil
}

// SortKeyOf returns the sort key of a raw item ("" when it has none).
func SortKeyOf(it Item) string {
	if sk, ok := it[attrSK].(*types.AttributeValueMemberS); ok {
		return sk.Value
	}
	return ""
}

// KeyIn returns the raw key of the item at sort key sk in the tenant's
// partition.
func KeyIn(tenantID, partition, sk string) Item {
	return Item{attrPK: &types.AttributeValueMemberS{Value: partitionKey(tenantID, partition)}, attrSK: &types.AttributeValueMemberS{Value: sk}}
}

// The partitions that data migrations walk.
const (
	PartitionProducts = entityProduct
	PartitionSKUs     = entitySKU
)
