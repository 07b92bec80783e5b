// Package settings owns Tessera's runtime configuration: the names of the
// tables, the event bus, the data-access role and the user pool, read once
// from the environment at cold start.
package settings
