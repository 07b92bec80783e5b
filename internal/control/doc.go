// Package control is the control plane: what the operator and the system do
// to tenants — the operator API (internal/control/operatorapi, behind
// functions/tenants), onboarding and offboarding (provision, behind
// functions/provisioner), control-plane events and their reliable
// publication (bus, outbox), each tenant's KMS key (tenantkey) and API key
// (apikey), the TenantStack template (tenantstack), the finance report
// (usage), the cell router (cellrouter), each tenant's change log
// (changefeed, behind functions/changefeed) and per-tenant backup and
// point-in-time restore (backup, run by the provisioner). It has no code of
// its own.
//
// Its packages import each other and the platform (internal/platform/...)
// only: never the app plane, the local stack or internal/wire. The control
// and the app plane meet only in what the platform holds. Their tests may
// also use the local stack (internal/local/testenv) and internal/wire.
// internal/arch checks these rules.
package control
