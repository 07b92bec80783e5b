package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/platform/product"
)

type productItem struct {
	key
	Name string `dynamodbav:"name"`
	SKU  string `dynamodbav:"sku"`
	// SKUKey (format 2, data migration 0001) is product.SKUKey(SKU): the
	// product then also holds the reservation of that key, so SKUs are
	// unique regardless of case. Products written before it have none
	// (format 1) and hold only the reservation of their exact SKU; readers
	// accept both, and the migration moves format 1 to format 2.
	SKUKey      string    `dynamodbav:"skuKey,omitempty"`
	Amount      int64     `dynamodbav:"priceAmount"`
	Currency    string    `dynamodbav:"priceCurrency"`
	Description string    `dynamodbav:"description"`
	Version     int64     `dynamodbav:"version"`
	CreatedAt   time.Time `dynamodbav:"createdAt"`
	UpdatedAt   time.Time `dynamodbav:"updatedAt"`
}

func (it productItem) product() product.Product {
	return product.Product{ID: it.SK, Name: it.Name, SKU: it.SKU, Description: it.Description,
		Price:   product.Price{Amount: it.Amount, Currency: it.Currency},
		Version: it.Version, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt}
}

// skuItem reserves a SKU within a tenant, so two products cannot share one.
type skuItem struct {
	key
	ProductID string `dynamodbav:"productId"`
}

// reservations are the keys of the SKU reservations the product holds: its
// exact SKU in every format, and in format 2 its SKU key as well (one item
// when the SKU is already lower case). Writes keep the exact reservation
// (expand/contract): code that knows only format 1 still finds it.
func (it productItem) reservations(tenantID string) []key {
	ks := []key{tenantKey(tenantID, entitySKU, it.SKU)}
	if it.SKUKey != "" && it.SKUKey != it.SKU {
		ks = append(ks, tenantKey(tenantID, entitySKU, it.SKUKey))
	}
	return ks
}

// minus returns the keys of a that are not in b.
func minus(a, b []key) []key {
	var out []key
	for _, k := range a {
		if !slices.Contains(b, k) {
			out = append(out, k)
		}
	}
	return out
}

var notExists = expression.AttributeNotExists(expression.Name(attrPK))

// CreateProduct stores a new product and reserves its SKU in one
// transaction: either both are written or neither.
func (d TenantData) CreateProduct(ctx context.Context, in product.Input) (product.Product, error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return product.Product{}, err
	}
	now := s.now().UTC()
	it := productItem{key: tenantKey(sc.tenantID, entityProduct, s.newID()), Name: in.Name, SKU: in.SKU,
		SKUKey: product.SKUKey(in.SKU), Amount: in.Price.Amount, Currency: in.Price.Currency, Description: in.Description,
		Version: 1, CreatedAt: now, UpdatedAt: now}
	putProduct, err := putIfAbsent(sc.table, it)
	if err != nil {
		return product.Product{}, err
	}
	items := []types.TransactWriteItem{putProduct}
	for _, k := range it.reservations(sc.tenantID) {
		reserve, err := putIfAbsent(sc.table, skuItem{key: k, ProductID: it.SK})
		if err != nil {
			return product.Product{}, err
		}
		items = append(items, reserve)
	}
	err = s.transact(ctx, sc, items...)
	if reasons := cancellation(err); failedAt(reasons, 1) || failedAt(reasons, 2) {
		return product.Product{}, fmt.Errorf("create product: sku %q: %w", in.SKU, ErrSKUTaken)
	}
	if err != nil {
		return product.Product{}, fmt.Errorf("create product: %w", err)
	}
	return it.product(), nil
}

// GetProduct reads one product of the caller's tenant.
func (d TenantData) GetProduct(ctx context.Context, id string) (product.Product, error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return product.Product{}, err
	}
	it, err := s.getProduct(ctx, sc, id, false)
	if err != nil {
		return product.Product{}, err
	}
	return it.product(), nil
}

func (s *Store) getProduct(ctx context.Context, sc scope, id string, consistent bool) (productItem, error) {
	var it productItem
	if err := s.get(ctx, sc, tenantKey(sc.tenantID, entityProduct, id), consistent, &it); err != nil {
		return it, fmt.Errorf("get product %s: %w", id, err)
	}
	return it, nil
}

// ListProducts returns a page of the caller's products, oldest first.
func (d TenantData) ListProducts(ctx context.Context, req PageRequest) (Page[product.Product], error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return Page[product.Product]{}, err
	}
	var items []productItem
	next, err := s.query(ctx, sc, entityProduct, req, &items)
	if err != nil {
		return Page[product.Product]{}, fmt.Errorf("list products: %w", err)
	}
	page := Page[product.Product]{Items: make([]product.Product, 0, len(items)), Next: next}
	for _, it := range items {
		page.Items = append(page.Items, it.product())
	}
	return page, nil
}

// UpdateProduct replaces a product's fields if its version is still version,
// moving the SKU reservations when the SKU changes, all in one transaction.
// A product keeps its format while its SKU stays (a format 1 product is
// moved to format 2 by the data migration, or when its SKU changes), so
// changing a price never fails on another product's SKU.
func (d TenantData) UpdateProduct(ctx context.Context, id string, version int64, in product.Input) (product.Product, error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return product.Product{}, err
	}
	for attempt := 0; ; attempt++ {
		p, again, err := s.updateProduct(ctx, sc, id, version, in)
		if !again {
			return p, err
		}
		if attempt == deleteAttempts {
			return product.Product{}, fmt.Errorf("update product %s: its format changed %d times meanwhile: %w", id, deleteAttempts, ErrVersionConflict)
		}
	}
}

// formatIs is the condition that a product item is still in cur's format
// (with or without skuKey): a data migration that moved it (which keeps
// its version) makes a write built from the older read fail, and the
// write reads it again.
func formatIs(cur productItem) expression.ConditionBuilder {
	if cur.SKUKey == "" {
		return expression.AttributeNotExists(expression.Name(attrSKUKey))
	}
	return expression.Name(attrSKUKey).Equal(expression.Value(cur.SKUKey))
}

// updateProduct is one attempt of UpdateProduct; again reports that the
// product's format changed under it (a data migration), so the caller
// tries again with the product as it is now.
func (s *Store) updateProduct(ctx context.Context, sc scope, id string, version int64, in product.Input) (_ product.Product, again bool, _ error) {
	cur, err := s.getProduct(ctx, sc, id, true)
	if err != nil {
		return product.Product{}, false, fmt.Errorf("update product: %w", err)
	}
	if cur.Version != version {
		return product.Product{}, false, fmt.Errorf("update product %s: have version %d, got %d: %w", id, cur.Version, version, ErrVersionConflict)
	}
	next := cur
	next.Name, next.SKU, next.Description = in.Name, in.SKU, in.Description
	next.Amount, next.Currency = in.Price.Amount, in.Price.Currency
	next.Version, next.UpdatedAt = version+1, s.now().UTC()
	if next.SKU != cur.SKU {
		next.SKUKey = product.SKUKey(next.SKU)
	}

	cond := expression.Name(attrVersion).Equal(expression.Value(version)).And(formatIs(cur))
	put, err := putWhen(sc.table, next, cond)
	if err != nil {
		return product.Product{}, false, err
	}
	items := []types.TransactWriteItem{put}
	held, wanted := cur.reservations(sc.tenantID), next.reservations(sc.tenantID)
	released := minus(held, wanted)
	for _, k := range released {
		release, err := deleteWhen(sc.table, k, expression.Name("productId").Equal(expression.Value(id)))
		if err != nil {
			return product.Product{}, false, err
		}
		items = append(items, release)
	}
	for _, k := range minus(wanted, held) {
		reserve, err := putIfAbsent(sc.table, skuItem{key: k, ProductID: id})
		if err != nil {
			return product.Product{}, false, err
		}
		items = append(items, reserve)
	}
	err = s.transact(ctx, sc, items...)
	reasons := cancellation(err)
	failedIn := func(from, to int) bool {
		for i := from; i < to; i++ {
			if failedAt(reasons, i) {
				return true
			}
		}
		return false
	}
	switch {
	case failedAt(reasons, 0):
		now, err := s.getProduct(ctx, sc, id, true)
		switch {
		case errors.Is(err, ErrNotFound):
			return product.Product{}, false, fmt.Errorf("update product %s: deleted meanwhile: %w", id, ErrNotFound)
		case err == nil && now.Version == version:
			return product.Product{}, true, nil // same version, another format: again
		}
		return product.Product{}, false, fmt.Errorf("update product %s: %w", id, ErrVersionConflict)
	case failedIn(1, 1+len(released)):
		return product.Product{}, false, fmt.Errorf("update product %s: %w", id, ErrVersionConflict)
	case failedIn(1+len(released), len(items)):
		return product.Product{}, false, fmt.Errorf("update product %s: sku %q: %w", id, in.SKU, ErrSKUTaken)
	case err != nil:
		return product.Product{}, false, fmt.Errorf("update product %s: %w", id, err)
	}
	return next.product(), false, nil
}

// deleteAttempts bounds DeleteProduct's re-reads when concurrent updates
// keep changing the product between its read and its write.
const deleteAttempts = 3

// DeleteProduct removes a product and releases its SKU. DELETE takes no
// version: a product that is gone is ErrNotFound, also when another delete
// wins between this read and this write, and a concurrent update does not
// stop the delete (it reads the product again and deletes what is there, so
// the SKU released is the one the product holds).
func (d TenantData) DeleteProduct(ctx context.Context, id string) error {
	s, sc, err := d.open(ctx)
	if err != nil {
		return err
	}
	for attempt := 0; attempt < deleteAttempts; attempt++ {
		cur, err := s.getProduct(ctx, sc, id, true)
		if err != nil {
			return fmt.Errorf("delete product: %w", err) // ErrNotFound once gone
		}
		done, err := s.deleteProduct(ctx, sc, cur)
		if err != nil {
			return fmt.Errorf("delete product %s: %w", id, err)
		}
		if done {
			return nil
		}
	}
	return fmt.Errorf("delete product %s: changed %d times meanwhile: %w", id, deleteAttempts, ErrVersionConflict)
}

// deleteProduct deletes cur if it is still at its version, releasing its SKU
// reservation in the same transaction. It reports false, nil when the
// product changed or went meanwhile (the caller reads it again). A
// reservation that is missing or names another product (a state only a
// crash or a non-isolating engine leaves) is not the product's to release:
// the product is then deleted alone.
func (s *Store) deleteProduct(ctx context.Context, sc scope, cur productItem) (bool, error) {
	sameVersion := expression.Name(attrVersion).Equal(expression.Value(cur.Version)).And(formatIs(cur))
	del, err := deleteWhen(sc.table, cur.key, sameVersion)
	if err != nil {
		return false, err
	}
	items := []types.TransactWriteItem{del}
	for _, k := range cur.reservations(sc.tenantID) {
		release, err := deleteWhen(sc.table, k, expression.Name("productId").Equal(expression.Value(cur.SK)))
		if err != nil {
			return false, err
		}
		items = append(items, release)
	}
	err = s.transact(ctx, sc, items...)
	reasons := cancellation(err)
	switch {
	case err == nil:
		return true, nil
	case failedAt(reasons, 0): // the product changed or is gone
		return false, nil
	case failedAt(reasons, 1) || failedAt(reasons, 2): // a reservation is not this product's
		err := s.deleteItem(ctx, sc, cur.key, sameVersion)
		if IsCondCheckFailed(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		// The product is gone: release what is still its own.
		for _, k := range cur.reservations(sc.tenantID) {
			err := s.deleteItem(ctx, sc, k, expression.Name("productId").Equal(expression.Value(cur.SK)))
			if err != nil && !IsCondCheckFailed(err) {
				return true, fmt.Errorf("release sku reservation %s: %w", k.SK, err)
			}
		}
		return true, nil
	}
	return false, err
}

// putIfAbsent is a transaction Put that fails if the key exists.
func putIfAbsent(table string, item any) (types.TransactWriteItem, error) {
	return putWhen(table, item, notExists)
}

func putWhen(table string, item any, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("marshal item: %w", err)
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("build condition: %w", err)
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(table), Item: av,
		ConditionExpression:                 expr.Condition(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}, nil
}

func deleteWhen(table string, k key, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	av, err := attributevalue.MarshalMap(k)
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("marshal key: %w", err)
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("build condition: %w", err)
	}
	return types.TransactWriteItem{Delete: &types.Delete{
		TableName: aws.String(table), Key: av,
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}}, nil
}

// gone reports whether the item at k no longer exists (a consistent read),
// to tell a deleted item from a changed one after a failed condition. A
// read that fails reports false: the caller keeps its conflict answer.
func (s *Store) gone(ctx context.Context, sc scope, k key) bool {
	var probe key
	return errors.Is(s.get(ctx, sc, k, true, &probe), ErrNotFound)
}

// get reads one item into out; ErrNotFound when absent.
func (s *Store) get(ctx context.Context, sc scope, k key, consistent bool, out any) error {
	cc, found, err := getItem(ctx, s.ddb, sc.table, k, consistent, out, returnCapacity, sc.opts)
	consumed(ctx, readCapacity, one(cc)...)
	if err != nil {
		return err
	}
	if !found {
		return ErrNotFound
	}
	return nil
}

// query reads one page of the caller's entity partition into out (a pointer
// to a slice) and returns the cursor of the next page.
func (s *Store) query(ctx context.Context, sc scope, entity string, req PageRequest, out any) (string, error) {
	pk := partitionKey(sc.tenantID, entity)
	expr, err := expression.NewBuilder().WithKeyCondition(expression.Key(attrPK).Equal(expression.Value(pk))).Build()
	if err != nil {
		return "", fmt.Errorf("build key condition: %w", err)
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(sc.table),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		Limit:                     aws.Int32(req.Limit),
		ReturnConsumedCapacity:    returnCapacity,
	}
	if req.Cursor != "" {
		lastSK, err := s.decodeCursor(ctx, sc.tenantID, entity, req.Cursor)
		if err != nil {
			return "", err
		}
		in.ExclusiveStartKey, err = attributevalue.MarshalMap(key{PK: pk, SK: lastSK})
		if err != nil {
			return "", fmt.Errorf("marshal start key: %w", err)
		}
	}
	res, err := s.ddb.Query(ctx, in, sc.opts)
	if err != nil {
		return "", err
	}
	consumed(ctx, readCapacity, one(res.ConsumedCapacity)...)
	if err := attributevalue.UnmarshalListOfMaps(res.Items, out); err != nil {
		return "", fmt.Errorf("unmarshal items: %w", err)
	}
	if len(res.LastEvaluatedKey) == 0 {
		return "", nil
	}
	var last key
	if err := attributevalue.UnmarshalMap(res.LastEvaluatedKey, &last); err != nil {
		return "", fmt.Errorf("unmarshal last key: %w", err)
	}
	if last.PK != pk { // cannot happen: the query names the partition
		return "", fmt.Errorf("query returned a key outside partition %s", pk)
	}
	return s.encodeCursor(ctx, sc.tenantID, entity, last.SK)
}
