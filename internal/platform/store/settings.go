package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/platform/branding"
)

// SettingsAttribute is the attribute of a tenant record that holds the
// tenant's settings (catalog.Record.Settings): the only attribute of its
// record a tenant session may write (access.DataAccessPolicy).
const SettingsAttribute = "settings"

// WithCatalogTable names the catalog table, which a tenant's session
// reaches for its own settings (PutSettings), audit trail (AppendAudit,
// Audit) and billing partitions (BillingInputs), as access.DataAccessPolicy
// allows.
func WithCatalogTable(table string) Option { return func(s *Store) { s.catalogTable = table } }

// errNoCatalogTable: PutSettings on a store built without WithCatalogTable.
var errNoCatalogTable = errors.New("store: no catalog table configured for tenant settings")

// PutSettings replaces the caller's tenant's settings if their version is
// still version (0: the tenant has none yet), and returns them at version
// + 1; ErrVersionConflict otherwise. The write is one UpdateItem of the
// tenant's catalog record that names only its settings attribute, made with
// the tenant's scoped credentials: TenantDataAccessRole may update that
// attribute of its own record and nothing else of the catalog. Callers
// drop the tenant's cached record afterwards (catalog.Cache.Forget).
func (d TenantData) PutSettings(ctx context.Context, in branding.Settings, version int64, by string) (branding.Settings, error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return branding.Settings{}, err
	}
	if s.catalogTable == "" {
		return branding.Settings{}, errNoCatalogTable
	}
	in.Version, in.UpdatedAt, in.UpdatedBy = version+1, s.now().UTC(), by
	cond := expression.AttributeExists(expression.Name(attrPK))
	if version == 0 {
		cond = cond.And(expression.AttributeNotExists(expression.Name(SettingsAttribute)))
	} else {
		cond = cond.And(expression.Name(SettingsAttribute + "." + attrVersion).Equal(expression.Value(version)))
	}
	upd := expression.Set(expression.Name(SettingsAttribute), expression.Value(in))
	_, err = updateWhen(ctx, s.ddb, s.catalogTable, catalogKey(sc.tenantID), cond, upd, nil, "", sc.opts)
	if IsCondCheckFailed(err) {
		return branding.Settings{}, fmt.Errorf("put settings of %s at version %d: %w", sc.tenantID, version, ErrVersionConflict)
	}
	if err != nil {
		return branding.Settings{}, fmt.Errorf("put settings of %s: %w", sc.tenantID, err)
	}
	return in, nil
}

// CountUsers counts the caller's tenant's user records (a COUNT Query of
// its user partition, consistent, every page).
func (d TenantData) CountUsers(ctx context.Context) (int, error) {
	return d.count(ctx, entityUser)
}

// CountProducts counts the caller's tenant's products (a COUNT Query of its
// product partition, consistent, every page).
func (d TenantData) CountProducts(ctx context.Context) (int, error) {
	return d.count(ctx, entityProduct)
}

func (d TenantData) count(ctx context.Context, entity string) (int, error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return 0, err
	}
	expr, err := expression.NewBuilder().WithKeyCondition(
		expression.Key(attrPK).Equal(expression.Value(partitionKey(sc.tenantID, entity)))).Build()
	if err != nil {
		return 0, fmt.Errorf("build key condition: %w", err)
	}
	p := dynamodb.NewQueryPaginator(queryOnly{s.ddb, sc}, &dynamodb.QueryInput{TableName: aws.String(sc.table),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		Select: types.SelectCount, ConsistentRead: aws.Bool(true), ReturnConsumedCapacity: returnCapacity})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("count %s: %w", entity, err)
		}
		consumed(ctx, readCapacity, one(page.ConsumedCapacity)...)
		n += int(page.Count)
	}
	return n, nil
}
