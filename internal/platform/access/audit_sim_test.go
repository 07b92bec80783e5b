package access_test

import (
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/access"
)

// The audit trails in the catalog table (internal/platform/audit), as the
// simulator evaluates the real policies: a tenant session appends to and
// reads its own trail only, and neither it nor a function role with
// catalog write access can update or delete an entry.

const catalogARN = tableARN + "tessera-dev-catalog"

// catalogWriteRole is the catalog part of a function role with catalog
// write access, as the infra app grants it (grantFunction): the item
// actions on the whole table, and the audit trail's denials.
func catalogWriteRole() access.Policy {
	return access.Policy{Version: "2012-10-17", Statement: append([]access.Statement{{
		Sid: "CatalogReadWrite", Effect: "Allow",
		Action: []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
			"dynamodb:Query", "dynamodb:ConditionCheckItem"},
		Resource: []string{catalogARN},
	}}, access.AuditImmutableStatements(catalogARN)...)}
}

func TestSimAuditTrail(t *testing.T) {
	withCatalog := simResources
	withCatalog.CatalogTableARN = catalogARN
	session := access.DataAccessPolicy(withCatalog)
	role := catalogWriteRole()

	var cases []simCase
	add := func(c simCase) { cases = append(cases, c) }
	for _, a := range access.AuditTrailActions {
		add(simCase{name: "session/own-trail/" + a, policy: session, action: a, resource: catalogARN,
			context: tenant("ab", leading("AUDIT#ab")), want: allowed, wantSid: "OwnAuditTrailOnly"})
		for _, k := range []string{"AUDIT#cd", "AUDIT#abc", "AUDIT#a", "AUDIT#", "AUDIT#*", "TENANT#ab", "USAGE#cd", "ab#PRODUCT", "audit#ab"} {
			add(simCase{name: "session/foreign/" + a + "/" + k, policy: session, action: a, resource: catalogARN,
				context: tenant("ab", leading(k)), want: implicit})
		}
		add(simCase{name: "session/no-leading-keys/" + a, policy: session, action: a, resource: catalogARN,
			context: tenant("ab", nil), want: implicit})
		add(simCase{name: "session/untagged/" + a, policy: session, action: a, resource: catalogARN,
			context: leading("AUDIT#ab"), want: implicit})
	}
	// Its own entries cannot be changed or removed: explicitly denied.
	for _, a := range access.AuditDeniedItemActions {
		add(simCase{name: "session/own-trail/" + a, policy: session, action: a, resource: catalogARN,
			context: tenant("ab", leading("AUDIT#ab")), want: explicit, wantSid: "AuditEntriesAreImmutable"})
	}
	add(simCase{name: "session/own-trail/not-granted/GetItem", policy: session, action: "dynamodb:GetItem", resource: catalogARN,
		context: tenant("ab", leading("AUDIT#ab")), want: implicit})
	add(simCase{name: "session/catalog/Scan", policy: session, action: "dynamodb:Scan", resource: catalogARN,
		context: tenant("ab", nil), want: explicit, wantSid: "NoScansOrBulkReads"})
	// The tenant's own pooled items are untouched by the denial.
	for _, a := range []string{"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"} {
		add(simCase{name: "session/pooled-still/" + a, policy: session, action: a, resource: pooledARN,
			context: tenant("ab", leading("ab#PRODUCT")), want: allowed, wantSid: "PooledItemsOfOwnTenantOnly"})
	}

	// A function role with catalog write access: no update or delete of
	// any audit entry, a batch with one audit key included, nor PartiQL
	// writes; its tenant records and other items as before.
	for _, a := range access.AuditDeniedItemActions {
		for _, keys := range [][]string{{"AUDIT#ab"}, {"AUDIT#_deployment"}, {"TENANT#ab", "AUDIT#ab"}} {
			add(simCase{name: "role/" + a + "/" + keys[len(keys)-1] + "/" + itoa(len(keys)), policy: role, action: a, resource: catalogARN,
				context: leading(keys...), want: explicit, wantSid: "AuditEntriesAreImmutable"})
		}
	}
	for _, a := range access.AuditDeniedPartiQL {
		add(simCase{name: "role/" + a, policy: role, action: a, resource: catalogARN,
			context: map[string]any{}, want: explicit, wantSid: "NoPartiQLWritesOnCatalog"})
	}
	for _, a := range []string{"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:PutItem"} {
		add(simCase{name: "role/tenant-record/" + a, policy: role, action: a, resource: catalogARN,
			context: leading("TENANT#ab"), want: allowed, wantSid: "CatalogReadWrite"})
	}
	for _, a := range []string{"dynamodb:PutItem", "dynamodb:Query"} {
		// Appending and reading stay (PutItem cannot be conditioned in
		// IAM: the store conditions every entry on its absence).
		add(simCase{name: "role/audit/" + a, policy: role, action: a, resource: catalogARN,
			context: leading("AUDIT#ab"), want: allowed, wantSid: "CatalogReadWrite"})
	}
	runSimCases(t, cases)
}

func itoa(n int) string { return string(rune('0' + n)) }
