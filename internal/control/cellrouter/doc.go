// Package cellrouter owns the cell router: the thin API in front of a
// stage's cells (internal/platform/cell). It places each new tenant in a
// cell, records the placement in its directory (store.Directory), forwards
// every operator request about a tenant to that tenant's cell, lists the
// cells with their tenant counts, and tells a signed-in user which cell's
// API serves their tenant. It holds no tenant data and is on no tenant
// request path: tenant users call their cell's API directly.
package cellrouter
