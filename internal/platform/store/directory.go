package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/platform/cell"
)

// The cell directory (the cell router's table): where each tenant lives.
//
//	pk "TENANT#<id>"            sk "CELL"   the tenant's cell (written once)
//	pk "CELL#<cell>"            sk "COUNT"  tenants placed in the cell
//	pk "IDEM#<sub>#<key>"       sk "IDEM"   a create's Idempotency-Key -> tenant id (TTL)
//
// A placement and its cell's count change in one transaction, conditioned
// on the tenant being unplaced and the cell under its limit, so that no cell
// takes more tenants than it may and a tenant is placed once.
const (
	dirTenantPrefix = "TENANT#"
	dirTenantSK     = "CELL"
	dirCellPrefix   = "CELL#"
	dirCellSK       = "COUNT"
	dirIdemPrefix   = "IDEM#"
	dirIdemSK       = "IDEM"
)

// Errors of the directory.
var (
	// ErrCellsFull: every open cell has reached its limit.
	ErrCellsFull = errors.New("store: every open cell is full")
)

// Directory is the cell router's record of each tenant's cell.
type Directory struct {
	ddb   DynamoDB
	table string
	now   func() time.Time
}

// NewDirectory returns the directory kept in table.
func NewDirectory(ddb DynamoDB, table string) *Directory {
	return &Directory{ddb: ddb, table: table, now: time.Now}
}

// Placement is one tenant's entry in the directory.
type Placement struct {
	TenantID  string    `dynamodbav:"tenantId" json:"tenantId"`
	Cell      cell.ID   `dynamodbav:"cell" json:"cell"`
	CreatedAt time.Time `dynamodbav:"createdAt" json:"createdAt"`
	// Actor is the operator (sub) who placed the tenant.
	Actor string `dynamodbav:"actor" json:"-"`
}

// PlaceRequest asks for a new tenant's placement.
type PlaceRequest struct {
	TenantID string
	// Candidates are the open cells in the order to try (cell.Map.Candidates)
	// and Limits their limits (cell.Cell.Limit).
	Candidates []cell.ID
	Limits     map[cell.ID]int
	// Actor is the operator's sub; with IdempotencyKey set, a retried create
	// of the same operator and key finds the tenant placed the first time.
	Actor          string
	IdempotencyKey string
}

// Place records req.TenantID in the first candidate cell with room. With an
// idempotency key that an earlier Place of the same actor recorded, it
// returns that placement instead, with replayed=true (and writes nothing).
// ErrCellsFull when no candidate has room; ErrExists when the tenant id is
// already placed.
func (d *Directory) Place(ctx context.Context, req PlaceRequest) (p Placement, replayed bool, err error) {
	if req.IdempotencyKey != "" {
		if p, ok, err := d.replay(ctx, req.Actor, req.IdempotencyKey); err != nil || ok {
			return p, ok, err
		}
	}
	now := d.now().UTC()
	p = Placement{TenantID: req.TenantID, CreatedAt: now, Actor: req.Actor}
	for _, c := range req.Candidates {
		p.Cell = c
		items, err := d.placeItems(p, req, now)
		if err != nil {
			return Placement{}, false, err
		}
		_, err = d.ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return p, false, nil
		}
		reasons := cancellation(err)
		switch {
		case reasons == nil:
			return Placement{}, false, fmt.Errorf("place tenant %s in cell %s: %w", req.TenantID, c, err)
		case failedAt(reasons, 0):
			return Placement{}, false, fmt.Errorf("place tenant %s: %w", req.TenantID, ErrExists)
		case req.IdempotencyKey != "" && failedAt(reasons, 2):
			// A concurrent create with the same key won the race.
			if p, ok, err := d.replay(ctx, req.Actor, req.IdempotencyKey); err != nil || ok {
				return p, ok, err
			}
			return Placement{}, false, fmt.Errorf("place tenant %s: idempotency key taken but unreadable", req.TenantID)
		case failedAt(reasons, 1):
			continue // this cell is full: try the next
		default:
			return Placement{}, false, fmt.Errorf("place tenant %s in cell %s: %w", req.TenantID, c, err)
		}
	}
	return Placement{}, false, ErrCellsFull
}

func (d *Directory) placeItems(p Placement, req PlaceRequest, now time.Time) ([]types.TransactWriteItem, error) {
	item, err := attributevalue.MarshalMap(p)
	if err != nil {
		return nil, fmt.Errorf("marshal placement: %w", err)
	}
	item[attrPK] = &types.AttributeValueMemberS{Value: dirTenantPrefix + p.TenantID}
	item[attrSK] = &types.AttributeValueMemberS{Value: dirTenantSK}
	notPlaced, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name(attrPK))).Build()
	if err != nil {
		return nil, err
	}
	limit := req.Limits[p.Cell]
	if limit <= 0 {
		limit = cell.MaxTenants
	}
	count, err := expression.NewBuilder().
		WithUpdate(expression.Add(expression.Name("tenants"), expression.Value(1))).
		WithCondition(expression.AttributeNotExists(expression.Name("tenants")).Or(
			expression.Name("tenants").LessThan(expression.Value(limit)))).Build()
	if err != nil {
		return nil, err
	}
	items := []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(d.table), Item: item,
			ConditionExpression: notPlaced.Condition(), ExpressionAttributeNames: notPlaced.Names()}},
		{Update: &types.Update{TableName: aws.String(d.table), Key: dirKey(dirCellPrefix+string(p.Cell), dirCellSK),
			UpdateExpression: count.Update(), ConditionExpression: count.Condition(),
			ExpressionAttributeNames: count.Names(), ExpressionAttributeValues: count.Values()}},
	}
	if req.IdempotencyKey != "" {
		idem := dirKey(dirIdemPrefix+req.Actor+"#"+req.IdempotencyKey, dirIdemSK)
		idem["tenantId"] = &types.AttributeValueMemberS{Value: p.TenantID}
		idem[CatalogTTLAttribute] = &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(IdempotencyTTL).Unix(), 10)}
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(d.table), Item: idem,
			ConditionExpression: notPlaced.Condition(), ExpressionAttributeNames: notPlaced.Names()}})
	}
	return items, nil
}

// replay finds the placement an idempotency key recorded (expired keys do
// not replay, as in the catalog).
func (d *Directory) replay(ctx context.Context, actor, key string) (Placement, bool, error) {
	out, err := d.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.table),
		Key: dirKey(dirIdemPrefix+actor+"#"+key, dirIdemSK), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Placement{}, false, fmt.Errorf("read idempotency key: %w", err)
	}
	if out.Item == nil {
		return Placement{}, false, nil
	}
	var idem struct {
		TenantID  string `dynamodbav:"tenantId"`
		ExpiresAt int64  `dynamodbav:"expiresAt"`
	}
	if err := attributevalue.UnmarshalMap(out.Item, &idem); err != nil {
		return Placement{}, false, fmt.Errorf("unmarshal idempotency key: %w", err)
	}
	if idem.ExpiresAt <= d.now().Unix() {
		return Placement{}, false, nil
	}
	p, err := d.Lookup(ctx, idem.TenantID)
	if errors.Is(err, ErrNotFound) {
		return Placement{}, false, nil // the placement was rolled back
	}
	return p, err == nil, err
}

// Lookup returns a tenant's placement, or ErrNotFound.
func (d *Directory) Lookup(ctx context.Context, tenantID string) (Placement, error) {
	out, err := d.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.table),
		Key: dirKey(dirTenantPrefix+tenantID, dirTenantSK)})
	if err != nil {
		return Placement{}, fmt.Errorf("look up tenant %s: %w", tenantID, err)
	}
	if out.Item == nil {
		return Placement{}, fmt.Errorf("look up tenant %s: %w", tenantID, ErrNotFound)
	}
	var p Placement
	if err := attributevalue.UnmarshalMap(out.Item, &p); err != nil {
		return Placement{}, fmt.Errorf("unmarshal placement of %s: %w", tenantID, err)
	}
	return p, nil
}

// Unplace removes a placement that Place made for a create the cell then
// refused (a 4xx: nothing was created there), and gives its cell the room
// back. It removes only that placement (same cell and time), and the
// idempotency key that pointed to it.
func (d *Directory) Unplace(ctx context.Context, p Placement, idempotencyKey string) error {
	cond, err := expression.NewBuilder().WithCondition(
		expression.Name("cell").Equal(expression.Value(string(p.Cell))).And(
			expression.Name("createdAt").Equal(expression.Value(p.CreatedAt.Format(time.RFC3339Nano))))).Build()
	if err != nil {
		return err
	}
	dec, err := expression.NewBuilder().
		WithUpdate(expression.Add(expression.Name("tenants"), expression.Value(-1))).
		WithCondition(expression.Name("tenants").GreaterThan(expression.Value(0))).Build()
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: aws.String(d.table), Key: dirKey(dirTenantPrefix+p.TenantID, dirTenantSK),
			ConditionExpression: cond.Condition(), ExpressionAttributeNames: cond.Names(), ExpressionAttributeValues: cond.Values()}},
		{Update: &types.Update{TableName: aws.String(d.table), Key: dirKey(dirCellPrefix+string(p.Cell), dirCellSK),
			UpdateExpression: dec.Update(), ConditionExpression: dec.Condition(),
			ExpressionAttributeNames: dec.Names(), ExpressionAttributeValues: dec.Values()}},
	}
	if idempotencyKey != "" {
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(d.table),
			Key: dirKey(dirIdemPrefix+p.Actor+"#"+idempotencyKey, dirIdemSK)}})
	}
	if _, err := d.ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		return fmt.Errorf("unplace tenant %s: %w", p.TenantID, err)
	}
	return nil
}

// Counts returns how many tenants each cell holds.
func (d *Directory) Counts(ctx context.Context, cells []cell.ID) (map[cell.ID]int, error) {
	out := make(map[cell.ID]int, len(cells))
	for _, c := range cells {
		got, err := d.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.table),
			Key: dirKey(dirCellPrefix+string(c), dirCellSK), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("count tenants of cell %s: %w", c, err)
		}
		var n struct {
			Tenants int `dynamodbav:"tenants"`
		}
		if got.Item != nil {
			if err := attributevalue.UnmarshalMap(got.Item, &n); err != nil {
				return nil, fmt.Errorf("unmarshal count of cell %s: %w", c, err)
			}
		}
		out[c] = n.Tenants
	}
	return out, nil
}

func dirKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: &types.AttributeValueMemberS{Value: pk}, attrSK: &types.AttributeValueMemberS{Value: sk}}
}
