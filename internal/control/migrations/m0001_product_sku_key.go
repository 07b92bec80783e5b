package migrations

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/platform/product"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// 0001 product-sku-key: products gain skuKey, the normalised SKU
// (product.SKUKey), and the reservation of that key, so that SKUs are unique
// within a tenant regardless of case.
//
//	format 1: PRODUCT item {sku, version, ...}; SKU item at sk = sku
//	format 2: PRODUCT item {sku, skuKey, version, ...}; SKU items at sk = sku
//	          and at sk = skuKey (one item when the SKU is lower case)
//
// The store writes format 2 and reads both (expand); the exact reservation
// stays, so format 1 code keeps working until a contract migration drops
// it. Up fails for a product whose SKU key another product already holds
// (ErrCollision: "ABC" and "abc" in one tenant), which an operator resolves
// by renaming one of them; Down removes skuKey and the key's reservation.
var productSKUKey = Migration{
	ID: 1, Name: "product-sku-key", Partition: store.PartitionProducts,
	Up: upSKUKey, Down: downSKUKey,
}

// The attributes of the store's product and SKU items that 0001 reads and
// writes (internal/platform/store/products.go; a test checks that the
// store's own writes are what Up produces).
const (
	attrSKU       = "sku"
	attrSKUKey    = "skuKey"
	attrVersion   = "version"
	attrProductID = "productId"
)

func reservation(tenantID, sku, productID string) store.Item {
	it := store.KeyIn(tenantID, store.PartitionSKUs, sku)
	it[attrProductID] = &types.AttributeValueMemberS{Value: productID}
	return it
}

func upSKUKey(ctx context.Context, tx Tx, tenantID string, it store.Item) (bool, error) {
	reserve := true
	for n := 0; n < attempts; n++ {
		if _, done := it[attrSKUKey]; done {
			return false, nil // format 2 already
		}
		sku, ok := str(it, attrSKU)
		if !ok || it[attrVersion] == nil {
			return false, fmt.Errorf("product %s: no sku or version: %w", store.SortKeyOf(it), ErrMalformed)
		}
		id, key := store.SortKeyOf(it), product.SKUKey(sku)
		ops := []store.Op{{Put: with(it, attrSKUKey, &types.AttributeValueMemberS{Value: key}),
			Expect: map[string]types.AttributeValue{attrVersion: it[attrVersion], attrSKUKey: nil}}}
		if key != sku && reserve {
			ops = append(ops, store.Op{Put: reservation(tenantID, key, id), Absent: true})
		}
		err := tx.Rewrite(ctx, ops...)
		var conflict *store.RewriteConflict
		switch {
		case err == nil:
			return true, nil
		case !errors.As(err, &conflict):
			return false, fmt.Errorf("product %s: %w", id, err)
		case conflict.Op == 0: // the product changed meanwhile: decide anew
			now, ok, err := reread(ctx, tx, it)
			if err != nil || !ok {
				return false, err
			}
			it = now
		default: // the key is reserved already
			held, err := tx.GetItems(ctx, []store.Item{store.KeyIn(tenantID, store.PartitionSKUs, key)})
			if err != nil {
				return false, fmt.Errorf("product %s: read reservation %s: %w", id, key, err)
			}
			if len(held) == 1 {
				if holder, _ := str(held[0], attrProductID); holder != id {
					return false, fmt.Errorf("product %s (sku %q): sku key %q is held by product %s: %w", id, sku, key, holder, ErrCollision)
				}
				reserve = false // its own already: only the product is left to write
			}
		}
	}
	return false, fmt.Errorf("product %s changed %d times while being migrated", store.SortKeyOf(it), attempts)
}

func downSKUKey(ctx context.Context, tx Tx, tenantID string, it store.Item) (bool, error) {
	release := true
	for n := 0; n < attempts; n++ {
		key, ok := str(it, attrSKUKey)
		if !ok {
			return false, nil // format 1 already
		}
		sku, _ := str(it, attrSKU)
		id := store.SortKeyOf(it)
		ops := []store.Op{{Put: with(it, attrSKUKey, nil),
			Expect: map[string]types.AttributeValue{attrVersion: it[attrVersion], attrSKUKey: it[attrSKUKey]}}}
		if key != sku && release {
			ops = append(ops, store.Op{Delete: store.KeyIn(tenantID, store.PartitionSKUs, key),
				Expect: map[string]types.AttributeValue{attrProductID: &types.AttributeValueMemberS{Value: id}}})
		}
		err := tx.Rewrite(ctx, ops...)
		var conflict *store.RewriteConflict
		switch {
		case err == nil:
			return true, nil
		case !errors.As(err, &conflict):
			return false, fmt.Errorf("product %s: %w", id, err)
		case conflict.Op == 0:
			now, ok, err := reread(ctx, tx, it)
			if err != nil || !ok {
				return false, err
			}
			it = now
		default: // the key's reservation is gone or not this product's: leave it
			release = false
		}
	}
	return false, fmt.Errorf("product %s changed %d times while being migrated", store.SortKeyOf(it), attempts)
}
