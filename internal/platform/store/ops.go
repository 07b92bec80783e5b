package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The single-item reads and writes and the transactions of tenant data. Each one marshals
// the item or key, builds the expression, calls DynamoDB with the scope's
// credentials and adds the consumed capacity to the request's meter. DynamoDB
// errors come back unwrapped, so callers can tell a failed condition
// (IsCondCheckFailed, cancellation) from anything else.
//
// Fenced writes (fence.go). When the scope checks the fence (the tenant was
// MIGRATING when its record was read), each of the four writes below goes
// as one TransactWriteItems: the write itself with its own condition, then,
// last, a ConditionCheck that the fence shard of its (first) item does not
// exist. The errors come back as the callers know them:
//   - the fence check failed: a *FencedError (errors.Is ErrFenced), whatever
//     else failed, since the placement is being left;
//   - a single-item write's own condition failed: the
//     *types.ConditionalCheckFailedException that PutItem, DeleteItem or
//     UpdateItem would have returned, so IsCondCheckFailed holds;
//   - a transaction of transact's caller: its cancellation as it is, whose
//     reasons keep their indices (failedAt), the check being last.
// When the scope does not check the fence, the requests are what they
// always were: no extra item, no extra cost.
//
// Transactions that DynamoDB cancels for a TransactionConflict only (no
// failed condition) are tried again (transactWrite), fenced or not.

// putItem writes item to the scope's table if cond (when not nil) holds.
func (s *Store) putItem(ctx context.Context, sc scope, item any, cond *expression.ConditionBuilder) error {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return fmt.Errorf("marshal item: %w", err)
	}
	var expr *expression.Expression
	if cond != nil {
		e, err := expression.NewBuilder().WithCondition(*cond).Build()
		if err != nil {
			return fmt.Errorf("build condition: %w", err)
		}
		expr = &e
	}
	if sc.checksFence {
		put := &types.Put{TableName: aws.String(sc.table), Item: av}
		if expr != nil {
			put.ConditionExpression, put.ExpressionAttributeNames, put.ExpressionAttributeValues = expr.Condition(), expr.Names(), expr.Values()
		}
		return s.writeFenced(ctx, sc, types.TransactWriteItem{Put: put})
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(sc.table), Item: av, ReturnConsumedCapacity: returnCapacity}
	if expr != nil {
		in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues = expr.Condition(), expr.Names(), expr.Values()
	}
	out, err := s.ddb.PutItem(ctx, in, sc.opts)
	if out != nil {
		consumed(ctx, writeCapacity, one(out.ConsumedCapacity)...)
	}
	return err
}

// deleteItem deletes the item at k of the scope's table if cond holds.
func (s *Store) deleteItem(ctx context.Context, sc scope, k key, cond expression.ConditionBuilder) error {
	av, err := attributevalue.MarshalMap(k)
	if err != nil {
		return fmt.Errorf("marshal key: %w", err)
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("build condition: %w", err)
	}
	if sc.checksFence {
		return s.writeFenced(ctx, sc, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(sc.table), Key: av,
			ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}})
	}
	out, err := s.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(sc.table), Key: av,
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnConsumedCapacity: returnCapacity}, sc.opts)
	if out != nil {
		consumed(ctx, writeCapacity, one(out.ConsumedCapacity)...)
	}
	return err
}

// updateItem updates the item at k of the scope's table if cond holds, and
// decodes the item as it is afterwards into out.
//
// Fenced, TransactWriteItems cannot return the item it updated, so with out
// not nil the item is read back (a consistent GetItem) after the
// transaction: one more read, only while the tenant migrates, and out may
// then show a write that landed between the two calls.
func (s *Store) updateItem(ctx context.Context, sc scope, k key, cond expression.ConditionBuilder, upd expression.UpdateBuilder, out any) error {
	if !sc.checksFence {
		cc, err := updateWhen(ctx, s.ddb, sc.table, k, cond, upd, out, returnCapacity, sc.opts)
		consumed(ctx, writeCapacity, one(cc)...)
		return err
	}
	av, expr, err := updateParts(k, cond, upd)
	if err != nil {
		return err
	}
	err = s.writeFenced(ctx, sc, types.TransactWriteItem{Update: &types.Update{TableName: aws.String(sc.table), Key: av,
		ConditionExpression: expr.Condition(), UpdateExpression: expr.Update(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}})
	if err != nil || out == nil {
		return err
	}
	cc, found, err := getItem(ctx, s.ddb, sc.table, k, true, out, returnCapacity, sc.opts)
	consumed(ctx, readCapacity, one(cc)...)
	if err != nil {
		return fmt.Errorf("read updated item: %w", err)
	}
	if !found {
		return fmt.Errorf("read updated item: deleted meanwhile: %w", ErrNotFound)
	}
	return nil
}

// transact writes items in one transaction with the scope's credentials.
// When the scope checks the fence, the fence check of items[0] is appended
// after them.
func (s *Store) transact(ctx context.Context, sc scope, items ...types.TransactWriteItem) error {
	if !sc.checksFence || len(items) == 0 {
		return s.transactWrite(ctx, sc, items)
	}
	check, shard, err := fenceCheck(sc, items[0])
	if err != nil {
		return err
	}
	err = s.transactWrite(ctx, sc, append(slices.Clip(items), check))
	if reasons := cancellation(err); failedAt(reasons, len(items)) {
		return s.refused(ctx, sc, shard, reasons[len(items)].Item)
	}
	return err
}

// writeFenced writes one item of a scope that checks the fence: the item
// and the fence check in one transaction. A failure of the item's own
// condition comes back as the single-item call's
// ConditionalCheckFailedException (with the item, where the write asked for
// it).
func (s *Store) writeFenced(ctx context.Context, sc scope, item types.TransactWriteItem) error {
	err := s.transact(ctx, sc, item)
	if reasons := cancellation(err); failedAt(reasons, 0) {
		return &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed"), Item: reasons[0].Item}
	}
	return err
}

// Retries of transactions cancelled for a TransactionConflict: up to
// conflictAttempts calls in all, the pause before call n+1 drawn from
// [conflictPause<<(n-1), 2*conflictPause<<(n-1)) (10-20, 20-40, 40-80 ms).
const (
	conflictAttempts = 4
	conflictPause    = 10 * time.Millisecond
)

// transactWrite is the one TransactWriteItems call of tenant data. A
// transaction that DynamoDB cancelled because another one held one of its
// items (TransactionConflict), and for no failed condition, wrote nothing:
// it is sent again after a short jittered pause, honouring ctx. The SDK's
// retryer does not retry cancellations.
func (s *Store) transactWrite(ctx context.Context, sc scope, items []types.TransactWriteItem) error {
	for attempt := 1; ; attempt++ {
		out, err := s.ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items, ReturnConsumedCapacity: returnCapacity}, sc.opts)
		if out != nil {
			consumed(ctx, writeCapacity, out.ConsumedCapacity...)
		}
		if attempt == conflictAttempts || !conflictOnly(cancellation(err)) {
			return err
		}
		base := conflictPause << (attempt - 1)
		select {
		case <-ctx.Done():
			return fmt.Errorf("retry after a transaction conflict: %w", ctx.Err())
		case <-time.After(base + rand.N(base)):
		}
	}
}

// conflictOnly reports whether a transaction was cancelled for a
// TransactionConflict and for no failed condition.
func conflictOnly(reasons []types.CancellationReason) bool {
	conflict := false
	for _, r := range reasons {
		switch aws.ToString(r.Code) {
		case "ConditionalCheckFailed":
			return false
		case "TransactionConflict":
			conflict = true
		}
	}
	return conflict
}

// updateWhen is the one conditional UpdateItem of the store, for tenant
// tables and the catalog alike. With out not nil it returns the new item
// into out. rc asks for the consumed capacity (empty: none).
func updateWhen(ctx context.Context, ddb DynamoDB, table string, k key, cond expression.ConditionBuilder, upd expression.UpdateBuilder,
	out any, rc types.ReturnConsumedCapacity, optFns ...func(*dynamodb.Options)) (*types.ConsumedCapacity, error) {
	av, expr, err := updateParts(k, cond, upd)
	if err != nil {
		return nil, err
	}
	in := &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: av,
		ConditionExpression: expr.Condition(), UpdateExpression: expr.Update(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ReturnConsumedCapacity: rc}
	if out != nil {
		in.ReturnValues = types.ReturnValueAllNew
	}
	res, err := ddb.UpdateItem(ctx, in, optFns...)
	if err != nil {
		return nil, err
	}
	if out != nil {
		if err := attributevalue.UnmarshalMap(res.Attributes, out); err != nil {
			return res.ConsumedCapacity, fmt.Errorf("unmarshal item: %w", err)
		}
	}
	return res.ConsumedCapacity, nil
}

// updateParts is the marshalled key and the built expression of a
// conditional update.
func updateParts(k key, cond expression.ConditionBuilder, upd expression.UpdateBuilder) (map[string]types.AttributeValue, expression.Expression, error) {
	av, err := attributevalue.MarshalMap(k)
	if err != nil {
		return nil, expression.Expression{}, fmt.Errorf("marshal key: %w", err)
	}
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return nil, expression.Expression{}, fmt.Errorf("build update: %w", err)
	}
	return av, expr, nil
}

// getItem reads the item at k of table into out; found is false (and out
// untouched) when there is none. rc asks for the consumed capacity (empty:
// none).
func getItem(ctx context.Context, ddb DynamoDB, table string, k key, consistent bool, out any,
	rc types.ReturnConsumedCapacity, optFns ...func(*dynamodb.Options)) (cc *types.ConsumedCapacity, found bool, err error) {
	av, err := attributevalue.MarshalMap(k)
	if err != nil {
		return nil, false, fmt.Errorf("marshal key: %w", err)
	}
	res, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: av, ConsistentRead: aws.Bool(consistent),
		ReturnConsumedCapacity: rc}, optFns...)
	if err != nil {
		return nil, false, err
	}
	if len(res.Item) == 0 {
		return res.ConsumedCapacity, false, nil
	}
	if err := attributevalue.UnmarshalMap(res.Item, out); err != nil {
		return res.ConsumedCapacity, true, fmt.Errorf("unmarshal item: %w", err)
	}
	return res.ConsumedCapacity, true, nil
}
