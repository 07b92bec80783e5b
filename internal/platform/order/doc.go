// Package order owns the order entity of the demo app: a quantity of one
// product of the same tenant, a customer whose name and email are sensitive
// (the store encrypts them under the tenant's key), and a status. It knows
// nothing of HTTP or DynamoDB.
package order
