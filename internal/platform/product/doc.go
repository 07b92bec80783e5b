// Package product owns the product entity of the demo app: its fields and the
// rules a valid product obeys (name, a SKU unique within the tenant, a price
// in integer minor units of an ISO 4217 currency). It knows nothing of HTTP or
// DynamoDB; a product team forking Tessera replaces it with its own entities.
package product
