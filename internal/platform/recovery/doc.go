// Package recovery owns the vocabulary of per-tenant backup and restore that
// the control plane's engine (internal/control/backup), the catalog's job
// records (internal/platform/store), the operator API and the CLI share: a
// snapshot's manifest, a backup or restore job and its phases, and where
// each lives in the backup bucket. It makes no AWS call.
package recovery
