package store

import (
	"context"
	"fmt"

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

// putItem writes item to the scope's table if cond (when not nil) holds.
func (s *Store) putItem(ctx context.Context, sc scope, item any, cond *expression.ConditionBuilder) error {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return fmt.Errorf("marshal item: %w", err)
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(sc.table), Item: av, ReturnConsumedCapacity: returnCapacity}
	if cond != nil {
		expr, err := expression.NewBuilder().WithCondition(*cond).Build()
		if err != nil {
			return fmt.Errorf("build condition: %w", err)
		}
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
func (s *Store) updateItem(ctx context.Context, sc scope, k key, cond expression.ConditionBuilder, upd expression.UpdateBuilder, out any) error {
	cc, err := updateWhen(ctx, s.ddb, sc.table, k, cond, upd, out, returnCapacity, sc.opts)
	consumed(ctx, writeCapacity, one(cc)...)
	return err
}

// transact writes items in one transaction with the scope's credentials.
func (s *Store) transact(ctx context.Context, sc scope, items ...types.TransactWriteItem) error {
	out, err := s.ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items, ReturnConsumedCapacity: returnCapacity}, sc.opts)
	if out != nil {
		consumed(ctx, writeCapacity, out.ConsumedCapacity...)
	}
	return err
}

// updateWhen is the one conditional UpdateItem of the store, for tenant
// tables and the catalog alike. With out not nil it returns the new item
// into out. rc asks for the consumed capacity (empty: none).
func updateWhen(ctx context.Context, ddb DynamoDB, table string, k key, cond expression.ConditionBuilder, upd expression.UpdateBuilder,
	out any, rc types.ReturnConsumedCapacity, optFns ...func(*dynamodb.Options)) (*types.ConsumedCapacity, error) {
	av, err := attributevalue.MarshalMap(k)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return nil, fmt.Errorf("build update: %w", err)
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
