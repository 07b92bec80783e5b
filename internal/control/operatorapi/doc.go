// Package operatorapi owns the operator's HTTP surface (functions/tenants):
// tenant management routes (create, list, get, change tier, suspend, resume,
// offboard; back up, list backups, restore, and read the backup and restore
// jobs, which internal/control/backup runs) as a Lambda handler for API
// Gateway REST proxy events, verifying
// the caller's ID token itself and checking the operators group in it on
// every call (audit entries name the operator's sub), and the scheduled
// outbox sweep of the
// same function. Each state change is one conditional catalog write with its
// outbox event and audit entry. Routing, JSON decoding and the mapping of
// errors to HTTP are internal/platform/edge's, shared with the tenant app
// API.
//
// See https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
package operatorapi
