package main

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/access/iamsim"
)

// TestAuditEntriesImmutableForFunctionRoles: every function role that may
// write catalog items carries the audit trail's denials
// (access.AuditImmutableStatements) on the catalog table, statement for
// statement; and, in the simulator, the synthesized catalog statements of
// such a role still let it change tenant records, but not update or delete
// an audit entry.
func TestAuditEntriesImmutableForFunctionRoles(t *testing.T) {
	s := synth(t)
	catalogArn := "${Data:" + s.DataJSON.logicalID(t, "AWS::DynamoDB::Table", "CatalogTable") + ".Arn}"
	want := normPolicy(access.Policy{Version: "2012-10-17", Statement: access.AuditImmutableStatements(catalogArn)}.Map())
	writers := 0
	var tenantsCatalog []any
	for _, spec := range functionSpecs {
		roleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", fnID(spec.Name)+"FunctionRole")
		var denies, onCatalog []any
		for _, st := range roleStatements(s.AppJSON, roleID) {
			if st["Effect"] == "Deny" {
				denies = append(denies, st)
			}
			if res := sortedFlat(st["Resource"]); slices.Equal(res, []string{catalogArn}) {
				onCatalog = append(onCatalog, st)
			}
		}
		got := normPolicy(map[string]any{"Version": "2012-10-17", "Statement": denies})
		if !writesCatalog(spec) {
			continue
		}
		writers++
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: denials\n got  %s\n want %s", spec.Name, jsonOf(got), jsonOf(want))
		}
		if spec.Name == "tenants" {
			tenantsCatalog = onCatalog
		}
	}
	// The tenants, provisioner and fleet functions write the catalog; the
	// api function its usage ledger.
	if writers < 4 || tenantsCatalog == nil {
		t.Fatalf("%d catalog writers, tenants statements %v", writers, tenantsCatalog)
	}

	pol := literal(t, normPolicy(map[string]any{"Version": "2012-10-17", "Statement": tenantsCatalog}), map[string]string{catalogArn: simCatalog})
	cases := []struct {
		name, action string
		keys         []string
		want         string
	}{
		{"update-audit-entry", "dynamodb:UpdateItem", []string{"AUDIT#t-ab"}, iamsim.ExplicitlyDenied},
		{"delete-audit-entry", "dynamodb:DeleteItem", []string{"AUDIT#t-ab"}, iamsim.ExplicitlyDenied},
		{"delete-deployment-entry", "dynamodb:DeleteItem", []string{"AUDIT#_deployment"}, iamsim.ExplicitlyDenied},
		{"batch-with-an-audit-key", "dynamodb:BatchWriteItem", []string{"TENANT#t-ab", "AUDIT#t-ab"}, iamsim.ExplicitlyDenied},
		{"partiql-delete", "dynamodb:PartiQLDelete", nil, iamsim.ExplicitlyDenied},
		{"append-audit-entry", "dynamodb:PutItem", []string{"AUDIT#t-ab"}, iamsim.Allowed},
		{"read-audit-trail", "dynamodb:Query", []string{"AUDIT#t-ab"}, iamsim.Allowed},
		{"update-tenant-record", "dynamodb:UpdateItem", []string{"TENANT#t-ab"}, iamsim.Allowed},
		{"delete-outbox-event", "dynamodb:DeleteItem", []string{"OUTBOX"}, iamsim.Allowed},
	}
	var reqs []iamsim.Request
	var wants []string
	for _, c := range cases {
		ctx := map[string]any{}
		if c.keys != nil {
			ctx["dynamodb:LeadingKeys"] = c.keys
		}
		reqs = append(reqs, iamsim.Request{Name: c.name, IdentityPolicies: []json.RawMessage{pol},
			Principal: "arn:aws:sts::" + simAccount + ":assumed-role/Tessera-test-TenantsFunctionRole/tenants",
			Action:    c.action, Resource: simCatalog, AccountID: simAccount, Context: ctx})
		wants = append(wants, c.want)
	}
	results, err := iamsim.Run(iamsim.Script(t), reqs)
	if err != nil {
		t.Fatal(err)
	}
	iamsim.Check(t, reqs, results, wants)
}
