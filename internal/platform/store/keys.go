package store

// Entity names used in partition keys.
const (
	entityProduct = "PRODUCT"
	entitySKU     = "SKU"
	entityOrder   = "ORDER"
)

// Attribute names.
const (
	attrPK      = "pk"
	attrSK      = "sk"
	attrVersion = "version"
	attrSKUKey  = "skuKey"
)

// partitionKey is the only way a tenant partition key is made.
func partitionKey(tenantID, entity string) string { return tenantID + "#" + entity }

// key is a primary key in the shape every table of Tessera uses.
type key struct {
	PK string `dynamodbav:"pk"`
	SK string `dynamodbav:"sk"`
}

func tenantKey(tenantID, entity, id string) key {
	return key{PK: partitionKey(tenantID, entity), SK: id}
}

// Catalog keys: one item per tenant.
const (
	catalogTenantPrefix = "TENANT#"
	catalogProfile      = "PROFILE"
)

func catalogKey(tenantID string) key {
	return key{PK: catalogTenantPrefix + tenantID, SK: catalogProfile}
}
