package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
)

// The raw item access of backup, restore and tier migration
// (internal/control/backup): a tenant's items as DynamoDB stores them, read
// and written with the tenant's own scoped credentials, partition by
// partition. Every write checks that the item's partition key is one of the
// tenant's own partitions, so a bad snapshot or change log cannot reach
// another tenant's items even where IAM would not stop it (the local
// emulators).

// Item is one raw item.
type Item = map[string]types.AttributeValue

// entityFeedMarker is the partition of the markers a restore writes to
// learn that the change feed has caught up: not tenant data, never in a
// snapshot, purged with the tenant.
const entityFeedMarker = recovery.FeedMarkerPartition

// DataPartitions are the entities of a tenant's data, the partitions a
// snapshot holds.
var DataPartitions = []string{entityProduct, entitySKU, entityOrder, entityUser, entityInvites, entityExport}

// RestorablePartitions are the partitions a restore in place puts back.
// Users and invitation counters follow the user pool (the directory), which
// a restore does not change, so they stay as they are.
var RestorablePartitions = []string{entityProduct, entitySKU, entityOrder, entityExport}

// ClonedPartitions are the partitions a restore into a new tenant copies:
// the business data. The clone has its own users (its admin is invited at
// onboarding) and no exports (their objects are the source tenant's).
var ClonedPartitions = []string{entityProduct, entitySKU, entityOrder}

// ErrForeignItem: an item handed to a raw write is not in one of the
// tenant's own partitions.
var ErrForeignItem = errors.New("store: item is not in one of the tenant's partitions")

// PartitionOf returns the entity of a raw item of tenantID ("PRODUCT" for
// pk "<tenant>#PRODUCT"); ok is false when the item is not the tenant's.
func PartitionOf(tenantID string, it Item) (string, bool) {
	pk, ok := it[attrPK].(*types.AttributeValueMemberS)
	if !ok {
		return "", false
	}
	entity, found := strings.CutPrefix(pk.Value, tenantID+"#")
	if !found || entity == "" || strings.Contains(entity, "#") {
		return "", false
	}
	return entity, true
}

// BindsTable reports whether the raw item holds a sealed value in the
// format that binds its table (crypto.BindsTable): copied to another table,
// that value would not open.
func BindsTable(it Item) bool {
	entity, _ := it[attrPK].(*types.AttributeValueMemberS)
	if entity == nil {
		return false
	}
	_, e, _ := strings.Cut(entity.Value, "#")
	for _, a := range sealedAttributes[e] {
		if b, ok := it[a].(*types.AttributeValueMemberB); ok && crypto.BindsTable(b.Value) {
			return true
		}
	}
	return false
}

// KeyOf returns the primary key of a raw item ("pk" and "sk").
func KeyOf(it Item) Item { return Item{attrPK: it[attrPK], attrSK: it[attrSK]} }

// ScanPartitions calls fn with every page of the tenant's items in the
// given partitions (consistent reads), in partition order.
func (d TenantData) ScanPartitions(ctx context.Context, partitions []string, fn func(partition string, items []Item) error) error {
	for _, entity := range partitions {
		if err := d.ScanFrom(ctx, entity, "", 0, func(items []Item) error { return fn(entity, items) }); err != nil {
			return err
		}
	}
	return nil
}

// WriteItems puts items and deletes the items at keys, 25 to a batch,
// retrying unprocessed ones with backoff. Every item and key must be in one
// of the tenant's partitions (ErrForeignItem, and nothing is written).
func (d TenantData) WriteItems(ctx context.Context, puts, deletes []Item) error {
	s, sc, err := d.open(ctx)
	if err != nil {
		return err
	}
	reqs := make([]types.WriteRequest, 0, len(puts)+len(deletes))
	for _, it := range puts {
		if _, ok := PartitionOf(sc.tenantID, it); !ok {
			return fmt.Errorf("put %v: %w", it[attrPK], ErrForeignItem)
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
	}
	for _, k := range deletes {
		if _, ok := PartitionOf(sc.tenantID, k); !ok {
			return fmt.Errorf("delete %v: %w", k[attrPK], ErrForeignItem)
		}
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: KeyOf(k)}})
	}
	for start := 0; start < len(reqs); start += 25 {
		if err := s.writeBatch(ctx, sc, reqs[start:min(start+25, len(reqs))]); err != nil {
			return err
		}
	}
	return nil
}

// writeBatch writes up to 25 requests, retrying unprocessed ones with
// backoff.
func (s *Store) writeBatch(ctx context.Context, sc scope, reqs []types.WriteRequest) error {
	pending := map[string][]types.WriteRequest{sc.table: reqs}
	for attempt := 0; len(pending[sc.table]) > 0; attempt++ {
		if attempt == 8 {
			return errors.New("batch write: items still unprocessed after 8 attempts")
		}
		if attempt > 0 {
			delay, err := batchBackoff.BackoffDelay(attempt, nil)
			if err != nil {
				return fmt.Errorf("batch write: %w", err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(delay):
			}
		}
		out, err := s.ddb.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending, ReturnConsumedCapacity: returnCapacity}, sc.opts)
		if err != nil {
			return fmt.Errorf("batch write: %w", err)
		}
		consumed(ctx, writeCapacity, out.ConsumedCapacity...)
		pending = out.UnprocessedItems
	}
	return nil
}

// GetItems reads the items at keys (consistent reads, 100 to a batch,
// retrying unprocessed keys with backoff) and returns those that exist,
// in no particular order. Every key must be in one of the tenant's
// partitions (ErrForeignItem, and nothing is read).
func (d TenantData) GetItems(ctx context.Context, keys []Item) ([]Item, error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if _, ok := PartitionOf(sc.tenantID, k); !ok {
			return nil, fmt.Errorf("get %v: %w", k[attrPK], ErrForeignItem)
		}
	}
	var out []Item
	for start := 0; start < len(keys); start += 100 {
		batch := make([]map[string]types.AttributeValue, 0, 100)
		for _, k := range keys[start:min(start+100, len(keys))] {
			batch = append(batch, KeyOf(k))
		}
		pending := map[string]types.KeysAndAttributes{sc.table: {Keys: batch, ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(pending[sc.table].Keys) > 0; attempt++ {
			if attempt == 8 {
				return nil, errors.New("batch get: keys still unprocessed after 8 attempts")
			}
			if attempt > 0 {
				delay, err := batchBackoff.BackoffDelay(attempt, nil)
				if err != nil {
					return nil, fmt.Errorf("batch get: %w", err)
				}
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(delay):
				}
			}
			res, err := s.ddb.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending, ReturnConsumedCapacity: returnCapacity}, sc.opts)
			if err != nil {
				return nil, fmt.Errorf("batch get of tenant %s: %w", sc.tenantID, err)
			}
			consumed(ctx, readCapacity, res.ConsumedCapacity...)
			out = append(out, res.Responses[sc.table]...)
			pending = res.UnprocessedKeys
		}
	}
	return out, nil
}

// PutFeedMarker writes a marker item of the tenant (partition FEEDMARK,
// sort key id) and returns its partition and sort key: a restore waits for
// the marker's change to reach the change log, which proves the feed has
// logged every earlier change of the tenant.
func (d TenantData) PutFeedMarker(ctx context.Context, id string) (pk, sk string, err error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return "", "", err
	}
	k := tenantKey(sc.tenantID, entityFeedMarker, id)
	sc.checksFence = false // not tenant data: a migration writes it past its own fence
	err = s.putItem(ctx, sc, struct {
		key
		At time.Time `dynamodbav:"at"`
	}{key: k, At: s.now().UTC()}, nil)
	if err != nil {
		return "", "", fmt.Errorf("feed marker of tenant %s: %w", sc.tenantID, err)
	}
	return k.PK, k.SK, nil
}

// sealedAttributes lists the sealed attributes of each entity.
var sealedAttributes = map[string][]string{entityOrder: {attrCustomerName, attrCustomerEmail}}

// Rekey returns a copy of it, an item of from's tenant, as an item of to's
// tenant: the partition key names to's tenant, and every sealed attribute
// is opened with from's key and sealed again with to's, bound to its new
// place. It is how a restore into a new tenant copies items; the source is
// read with from's scoped credentials and key only.
func (s *Store) Rekey(ctx context.Context, from, to TenantData, it Item) (Item, error) {
	_, src, err := from.open(ctx)
	if err != nil {
		return nil, err
	}
	_, dst, err := to.open(ctx)
	if err != nil {
		return nil, err
	}
	entity, ok := PartitionOf(src.tenantID, it)
	if !ok {
		return nil, fmt.Errorf("rekey %v: %w", it[attrPK], ErrForeignItem)
	}
	var k key
	if err := attributevalue.UnmarshalMap(KeyOf(it), &k); err != nil {
		return nil, fmt.Errorf("unmarshal key: %w", err)
	}
	nk := tenantKey(dst.tenantID, entity, k.SK)
	out := make(Item, len(it))
	for name, v := range it {
		out[name] = v
	}
	out[attrPK] = &types.AttributeValueMemberS{Value: nk.PK}
	for _, attr := range sealedAttributes[entity] {
		b, ok := it[attr].(*types.AttributeValueMemberB)
		if !ok {
			continue
		}
		plain, err := s.sealer.Open(ctx, src.cryptoKey(), s.field(src, k, attr), b.Value)
		if err != nil {
			return nil, fmt.Errorf("open %s of %s/%s: %w", attr, k.PK, k.SK, err)
		}
		sealed, err := s.sealer.Seal(ctx, dst.cryptoKey(), s.field(dst, nk, attr), plain)
		clear(plain)
		if err != nil {
			return nil, fmt.Errorf("seal %s of %s/%s: %w", attr, nk.PK, nk.SK, err)
		}
		out[attr] = &types.AttributeValueMemberB{Value: sealed}
	}
	return out, nil
}
