// Package memo owns the bounded in-memory cache that the request path keeps
// per Lambda environment (tenant records, tenant credentials providers): least
// recently used eviction beyond a maximum size, a per-entry expiry, one load
// for concurrent misses of the same key, and (WithRefreshAhead) a background
// reload of an entry in use shortly before it expires.
package memo
