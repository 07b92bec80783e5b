// Package entityid owns the ids of tenant entities: ULIDs (26 characters of
// Crockford base32), time-ordered so lists come back oldest first. Ids of any
// other shape are rejected before they reach the database.
//
// See https://github.com/ulid/spec
package entityid
