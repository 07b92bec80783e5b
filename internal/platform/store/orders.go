package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/order"
)

// Sealed attributes of an order.
const (
	attrCustomerName  = "customerName"
	attrCustomerEmail = "customerEmail"
)

type orderItem struct {
	key
	ProductID     string    `dynamodbav:"productId"`
	Quantity      int       `dynamodbav:"quantity"`
	CustomerName  []byte    `dynamodbav:"customerName"`
	CustomerEmail []byte    `dynamodbav:"customerEmail"`
	Status        string    `dynamodbav:"status"`
	Version       int64     `dynamodbav:"version"`
	CreatedAt     time.Time `dynamodbav:"createdAt"`
	UpdatedAt     time.Time `dynamodbav:"updatedAt"`
}

func (s *Store) field(sc scope, k key, attr string) crypto.Field {
	return crypto.Field{TenantID: sc.tenantID, Table: sc.table, PK: k.PK, SK: k.SK, Attribute: attr}
}

// seal encrypts the customer into the item's sealed attributes.
func (s *Store) seal(ctx context.Context, sc scope, it *orderItem, c order.Customer) error {
	var err error
	if it.CustomerName, err = s.sealer.Seal(ctx, sc.cryptoKey(), s.field(sc, it.key, attrCustomerName), []byte(c.Name)); err != nil {
		return fmt.Errorf("seal %s of order %s: %w", attrCustomerName, it.SK, err)
	}
	if it.CustomerEmail, err = s.sealer.Seal(ctx, sc.cryptoKey(), s.field(sc, it.key, attrCustomerEmail), []byte(c.Email)); err != nil {
		return fmt.Errorf("seal %s of order %s: %w", attrCustomerEmail, it.SK, err)
	}
	return nil
}

func (s *Store) open(ctx context.Context, sc scope, it orderItem) (order.Order, error) {
	name, err := s.sealer.Open(ctx, sc.cryptoKey(), s.field(sc, it.key, attrCustomerName), it.CustomerName)
	if err != nil {
		return order.Order{}, fmt.Errorf("open %s of order %s: %w", attrCustomerName, it.SK, err)
	}
	email, err := s.sealer.Open(ctx, sc.cryptoKey(), s.field(sc, it.key, attrCustomerEmail), it.CustomerEmail)
	if err != nil {
		return order.Order{}, fmt.Errorf("open %s of order %s: %w", attrCustomerEmail, it.SK, err)
	}
	return order.Order{ID: it.SK, ProductID: it.ProductID, Quantity: it.Quantity,
		Customer: order.Customer{Name: string(name), Email: string(email)},
		Status:   order.Status(it.Status), Version: it.Version, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt}, nil
}

// productExists is a transaction check that the product exists in the
// caller's tenant.
func productExists(sc scope, productID string) (types.TransactWriteItem, error) {
	av, err := attributevalue.MarshalMap(tenantKey(sc.tenantID, entityProduct, productID))
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("marshal key: %w", err)
	}
	expr, err := expression.NewBuilder().WithCondition(expression.AttributeExists(expression.Name(attrPK))).Build()
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("build condition: %w", err)
	}
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: aws.String(sc.table), Key: av,
		ConditionExpression:      expr.Condition(),
		ExpressionAttributeNames: expr.Names(),
	}}, nil
}

// CreateOrder stores a new order if its product exists in the caller's
// tenant, in one transaction.
func (d TenantData) CreateOrder(ctx context.Context, in order.Input) (order.Order, error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return order.Order{}, err
	}
	now := s.now().UTC()
	it := orderItem{key: tenantKey(sc.tenantID, entityOrder, s.newID()), ProductID: in.ProductID,
		Quantity: in.Quantity, Status: string(in.Status), Version: 1, CreatedAt: now, UpdatedAt: now}
	if err := s.seal(ctx, sc, &it, *in.Customer); err != nil {
		return order.Order{}, err
	}
	check, err := productExists(sc, in.ProductID)
	if err != nil {
		return order.Order{}, err
	}
	put, err := putIfAbsent(sc.table, it)
	if err != nil {
		return order.Order{}, err
	}
	err = s.transact(ctx, sc, check, put)
	if reasons := cancellation(err); failedAt(reasons, 0) {
		return order.Order{}, fmt.Errorf("create order: product %s: %w", in.ProductID, ErrUnknownProduct)
	}
	if err != nil {
		return order.Order{}, fmt.Errorf("create order: %w", err)
	}
	return order.Order{ID: it.SK, ProductID: it.ProductID, Quantity: it.Quantity, Customer: *in.Customer,
		Status: in.Status, Version: 1, CreatedAt: now, UpdatedAt: now}, nil
}

// GetOrder reads one order of the caller's tenant.
func (d TenantData) GetOrder(ctx context.Context, id string) (order.Order, error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return order.Order{}, err
	}
	var it orderItem
	if err := s.get(ctx, sc, tenantKey(sc.tenantID, entityOrder, id), false, &it); err != nil {
		return order.Order{}, fmt.Errorf("get order %s: %w", id, err)
	}
	return s.open(ctx, sc, it)
}

// ListOrders returns a page of the caller's orders, oldest first.
func (d TenantData) ListOrders(ctx context.Context, req PageRequest) (Page[order.Order], error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return Page[order.Order]{}, err
	}
	var items []orderItem
	next, err := s.query(ctx, sc, entityOrder, req, &items)
	if err != nil {
		return Page[order.Order]{}, fmt.Errorf("list orders: %w", err)
	}
	page := Page[order.Order]{Items: make([]order.Order, 0, len(items)), Next: next}
	for _, it := range items {
		o, err := s.open(ctx, sc, it)
		if err != nil {
			return Page[order.Order]{}, fmt.Errorf("list orders: %w", err)
		}
		page.Items = append(page.Items, o)
	}
	return page, nil
}

// UpdateOrder replaces an order's fields if its version is still version and
// its (possibly new) product exists, in one transaction.
func (d TenantData) UpdateOrder(ctx context.Context, id string, version int64, in order.Input) (order.Order, error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return order.Order{}, err
	}
	var cur orderItem
	if err := s.get(ctx, sc, tenantKey(sc.tenantID, entityOrder, id), true, &cur); err != nil {
		return order.Order{}, fmt.Errorf("update order %s: %w", id, err)
	}
	if cur.Version != version {
		return order.Order{}, fmt.Errorf("update order %s: have version %d, got %d: %w", id, cur.Version, version, ErrVersionConflict)
	}
	next := cur
	next.ProductID, next.Quantity, next.Status = in.ProductID, in.Quantity, string(in.Status)
	next.Version, next.UpdatedAt = version+1, s.now().UTC()
	if err := s.seal(ctx, sc, &next, *in.Customer); err != nil {
		return order.Order{}, err
	}
	check, err := productExists(sc, in.ProductID)
	if err != nil {
		return order.Order{}, err
	}
	put, err := putWhen(sc.table, next, expression.Name(attrVersion).Equal(expression.Value(version)))
	if err != nil {
		return order.Order{}, err
	}
	err = s.transact(ctx, sc, check, put)
	reasons := cancellation(err)
	switch {
	case failedAt(reasons, 1) && s.gone(ctx, sc, cur.key):
		return order.Order{}, fmt.Errorf("update order %s: deleted meanwhile: %w", id, ErrNotFound)
	case failedAt(reasons, 1):
		return order.Order{}, fmt.Errorf("update order %s: %w", id, ErrVersionConflict)
	case failedAt(reasons, 0):
		return order.Order{}, fmt.Errorf("update order %s: product %s: %w", id, in.ProductID, ErrUnknownProduct)
	case err != nil:
		return order.Order{}, fmt.Errorf("update order %s: %w", id, err)
	}
	return order.Order{ID: id, ProductID: next.ProductID, Quantity: next.Quantity, Customer: *in.Customer,
		Status: in.Status, Version: next.Version, CreatedAt: next.CreatedAt, UpdatedAt: next.UpdatedAt}, nil
}

// DeleteOrder removes an order of the caller's tenant.
func (d TenantData) DeleteOrder(ctx context.Context, id string) error {
	s, sc, err := d.open(ctx)
	if err != nil {
		return err
	}
	err = s.deleteItem(ctx, sc, tenantKey(sc.tenantID, entityOrder, id), expression.AttributeExists(expression.Name(attrPK)))
	if IsCondCheckFailed(err) {
		return fmt.Errorf("delete order %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete order %s: %w", id, err)
	}
	return nil
}
