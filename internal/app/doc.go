// Package app is the tenant app plane: what serves a tenant's own users and
// data — the tenant routes' authorizer (internal/app/authorizer, behind
// functions/authorizer), the tenant API (internal/app/tenantapi, behind
// functions/api) and the export worker (internal/app/exporter, behind
// functions/exports). It has no code of its own.
//
// Its packages import each other and the platform (internal/platform/...)
// only: never the control plane, the local stack or internal/wire. The app
// and the control plane meet only in what the platform holds. Their tests
// may also use the local stack (internal/local/testenv) and internal/wire.
// internal/arch checks these rules.
package app
