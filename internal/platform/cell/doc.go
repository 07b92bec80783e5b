// Package cell owns the split of a deployment into cells: independent
// copies of the tenant-serving stacks, each in an AWS account of its own, so
// that each cell has its own account-wide quotas (STS AssumeRole 600/s, KMS
// cryptographic operations, Lambda concurrency, API keys). It holds the cell
// map (which cells a stage has, where their APIs are, which take new
// tenants), the rule that places a new tenant in a cell, and the sizing rule
// that the scale model (cmd/tessera-bench -scale) derived. A tenant's cell is
// recorded once, in the cell router's directory and in the tenant's catalog
// record (catalog.Placement.Cell); this package never moves a tenant.
package cell
