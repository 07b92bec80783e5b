// Package usage owns the finance report: per tenant and period, the requests
// and DynamoDB capacity from the usage ledger, the items stored, and an
// estimated cost from a documented price table, as CSV or JSON.
package usage
