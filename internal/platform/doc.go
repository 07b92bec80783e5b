// Package platform is what both planes share: the tenant data model next to
// the store that persists it (store, tenant, catalog, product, order,
// export, entityid), tenant-scoped access and envelope encryption (access,
// crypto), users and their tokens (directory, idtoken), plans, settings and
// metering, the route table and the HTTP edge of both APIs (route, edge),
// the request-path cache (memo), AWS configuration (awsconfig), and the
// vocabulary and retention rules of per-tenant backups (recovery,
// retention), a tenant's own settings (branding) and feature flags and
// entitlements (features). It has no code of its own.
//
// Its packages import each other and libraries only: never the app or the
// control plane, the local stack or internal/wire. Their tests may also use
// the local stack (internal/local/testenv) and internal/wire. Within it,
// only internal/platform/store imports the DynamoDB client and only
// internal/platform/crypto uses KMS data operations (see internal/arch for
// the exceptions outside the platform). internal/arch checks these rules.
package platform
