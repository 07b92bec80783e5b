package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The write fence of a placement: what makes a cutover lose no write.
//
// A tier migration (internal/control/backup) moves a tenant's items from
// one placement (table) to another, while every process may cache the
// tenant's catalog record, and so its old placement, for up to the catalog
// TTL. The migration makes the tenant MIGRATING, waits one TTL (so every
// cached record says MIGRATING, and every write of the tenant checks the
// fence: catalog.Scope.ChecksFence), and only then sets the fence on the
// old placement, copies the last changes and flips the placement. From the
// moment the fence is up, a write that a stale process sends to the old
// placement fails with ErrFenced instead of landing in a copy that the
// tenant has left; the API then reads the catalog again and writes to the
// new placement (internal/app/tenantapi).
//
// The fence lives in the tenant's own partition "<tenant>#FENCE" of the
// placement's table, so the tenant's scoped credentials (IAM
// dynamodb:LeadingKeys on the tenant's prefix) can read it in the
// transaction of each write. It is not tenant data: it is in none of
// DataPartitions, RestorablePartitions and ClonedPartitions, so backups,
// restores and migrations (which keep only those partitions; PartitionOf
// returns "FENCE" for its items) neither copy nor replay it.
//
// It is sharded into FenceShards items, because on AWS concurrent
// TransactWriteItems that include the same item conflict
// (TransactionConflict): with one fence item, every write of a migrating
// tenant would serialise on it. A write checks only the shard that its
// (first) item's key hashes to (fenceShard), and the fence is up only once
// SetFence has written every shard.

// entityFence is the partition of the fence items.
const entityFence = "FENCE"

// FenceShards is the number of items of a fence (sort keys "FENCE#0" to
// "FENCE#7").
const FenceShards = 8

// Reasons of a fence.
const (
	// FenceMigrating: a tier migration is cutting the tenant over.
	FenceMigrating = "migrating"
	// FenceRestoring: a restore is rewriting the tenant's items.
	FenceRestoring = "restoring"
)

// Fence is a placement's fence: why, by which job, and since when.
type Fence struct {
	Reason string
	JobID  string
	Since  time.Time
}

type fenceItem struct {
	key
	Reason string    `dynamodbav:"reason"`
	JobID  string    `dynamodbav:"jobId"`
	Since  time.Time `dynamodbav:"since"`
}

func (it fenceItem) fence() Fence { return Fence{Reason: it.Reason, JobID: it.JobID, Since: it.Since} }

// fenceKey is the key of shard i of the tenant's fence.
func fenceKey(tenantID string, shard int) key {
	return key{PK: partitionKey(tenantID, entityFence), SK: entityFence + "#" + strconv.Itoa(shard)}
}

// fenceShard is the shard that a write of the item at pk, sk checks:
// FNV-32a of pk, a NUL and sk, modulo FenceShards.
func fenceShard(pk, sk string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(pk))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(sk))
	return int(h.Sum32() % FenceShards)
}

// SetFence raises the fence on the tenant's placement (the scope's table):
// every shard is written, and from then on each write of a scope that
// checks the fence fails with ErrFenced. reason is FenceMigrating or
// FenceRestoring; jobID names the job that set it. The writes themselves
// are not fenced. Setting it again is harmless (it rewrites the shards).
func (d TenantData) SetFence(ctx context.Context, reason, jobID string) error {
	if reason != FenceMigrating && reason != FenceRestoring {
		return fmt.Errorf("set fence: unknown reason %q", reason)
	}
	s, sc, err := d.open(ctx)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	reqs := make([]types.WriteRequest, 0, FenceShards)
	for i := range FenceShards {
		av, err := attributevalue.MarshalMap(fenceItem{key: fenceKey(sc.tenantID, i), Reason: reason, JobID: jobID, Since: now})
		if err != nil {
			return fmt.Errorf("marshal fence: %w", err)
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: av}})
	}
	if err := s.writeBatch(ctx, sc, reqs); err != nil {
		return fmt.Errorf("set fence of tenant %s in %s: %w", sc.tenantID, sc.table, err)
	}
	return nil
}

// ClearFence takes the fence of the tenant's placement down (every shard):
// writes reach the placement again. Clearing a fence that is not there is
// harmless.
func (d TenantData) ClearFence(ctx context.Context) error {
	s, sc, err := d.open(ctx)
	if err != nil {
		return err
	}
	reqs := make([]types.WriteRequest, 0, FenceShards)
	for i := range FenceShards {
		av, err := attributevalue.MarshalMap(fenceKey(sc.tenantID, i))
		if err != nil {
			return fmt.Errorf("marshal key: %w", err)
		}
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: av}})
	}
	if err := s.writeBatch(ctx, sc, reqs); err != nil {
		return fmt.Errorf("clear fence of tenant %s in %s: %w", sc.tenantID, sc.table, err)
	}
	return nil
}

// Fence reads the fence of the tenant's placement (shard 0, a consistent
// read); ok is false when there is none.
func (d TenantData) Fence(ctx context.Context) (f Fence, ok bool, err error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return Fence{}, false, err
	}
	it, ok, err := s.readFence(ctx, sc, 0)
	if err != nil {
		return Fence{}, false, fmt.Errorf("read fence of tenant %s: %w", sc.tenantID, err)
	}
	return it.fence(), ok, nil
}

func (s *Store) readFence(ctx context.Context, sc scope, shard int) (fenceItem, bool, error) {
	var it fenceItem
	cc, found, err := getItem(ctx, s.ddb, sc.table, fenceKey(sc.tenantID, shard), true, &it, returnCapacity, sc.opts)
	consumed(ctx, readCapacity, one(cc)...)
	return it, found, err
}

// fenceCheck is the transaction item that a write checks the fence with:
// the shard of first's key must not exist. On failure DynamoDB returns the
// fence item in the cancellation reason (ALL_OLD), which saves a read.
func fenceCheck(sc scope, first types.TransactWriteItem) (types.TransactWriteItem, int, error) {
	shard := fenceShard(keyOfWrite(first))
	av, err := attributevalue.MarshalMap(fenceKey(sc.tenantID, shard))
	if err != nil {
		return types.TransactWriteItem{}, 0, fmt.Errorf("marshal key: %w", err)
	}
	expr, err := expression.NewBuilder().WithCondition(notExists).Build()
	if err != nil {
		return types.TransactWriteItem{}, 0, fmt.Errorf("build condition: %w", err)
	}
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: aws.String(sc.table), Key: av,
		ConditionExpression:                 expr.Condition(),
		ExpressionAttributeNames:            expr.Names(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}, shard, nil
}

// keyOfWrite is the partition and sort key of a transaction item.
func keyOfWrite(it types.TransactWriteItem) (pk, sk string) {
	var m map[string]types.AttributeValue
	switch {
	case it.Put != nil:
		m = it.Put.Item
	case it.Delete != nil:
		m = it.Delete.Key
	case it.Update != nil:
		m = it.Update.Key
	case it.ConditionCheck != nil:
		m = it.ConditionCheck.Key
	}
	if v, ok := m[attrPK].(*types.AttributeValueMemberS); ok {
		pk = v.Value
	}
	if v, ok := m[attrSK].(*types.AttributeValueMemberS); ok {
		sk = v.Value
	}
	return pk, sk
}

// refused is the error of a write that the fence (shard) refused. old is
// the fence item the cancellation returned; when it is missing, the shard
// is read. A fence cleared meanwhile (or unreadable) still refused this
// write: the error is ErrFenced all the same, with a zero Fence.
func (s *Store) refused(ctx context.Context, sc scope, shard int, old map[string]types.AttributeValue) error {
	var it fenceItem
	if len(old) > 0 {
		if err := attributevalue.UnmarshalMap(old, &it); err == nil {
			return &FencedError{Fence: it.fence()}
		}
	}
	it, found, err := s.readFence(ctx, sc, shard)
	if err != nil || !found {
		return &FencedError{}
	}
	return &FencedError{Fence: it.fence()}
}
