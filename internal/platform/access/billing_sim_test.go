package access_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/access/iamsim"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

const billingCatalogARN = "arn:aws:dynamodb:us-east-1:" + simAccount + ":table/tessera-catalog"

// The prefixes the policy names are the store's.
func TestBillingPrefixesAreTheStores(t *testing.T) {
	if !slices.Equal(access.BillingPartitionPrefixes, []string{store.UsagePrefix, store.TiersPrefix}) {
		t.Fatalf("BillingPartitionPrefixes = %v, want the store's %s and %s", access.BillingPartitionPrefixes, store.UsagePrefix, store.TiersPrefix)
	}
}

// TestSimTenantSessionReadsOnlyItsOwnBillingRecords evaluates a session of
// tenant ab (TenantDataAccessRole's policy with the catalog table) against
// the catalog: it may Query its own usage ledger and tier history, and not
// tenant cd's, nor a lookalike id, nor tenant records, nor the outbox; it
// may not write there, not even its own ledger; a Query without leading
// keys, or a session without the tag, gets nothing.
func TestSimTenantSessionReadsOnlyItsOwnBillingRecords(t *testing.T) {
	r := simResources
	r.CatalogTableARN = billingCatalogARN
	policy := access.DataAccessPolicy(r).JSON()
	cases := []struct {
		name, action, resource string
		ctx                    map[string]any
		want                   string
	}{
		{"query-own-ledger", "dynamodb:Query", billingCatalogARN, tenant("ab", leading("USAGE#ab")), iamsim.Allowed},
		{"query-own-tiers", "dynamodb:Query", billingCatalogARN, tenant("ab", leading("TIERS#ab")), iamsim.Allowed},
		{"query-b-ledger", "dynamodb:Query", billingCatalogARN, tenant("ab", leading("USAGE#cd")), iamsim.ImplicitlyDenied},
		{"query-b-tiers", "dynamodb:Query", billingCatalogARN, tenant("ab", leading("TIERS#cd")), iamsim.ImplicitlyDenied},
		{"query-lookalike-ledger", "dynamodb:Query", billingCatalogARN, tenant("ab", leading("USAGE#abc")), iamsim.ImplicitlyDenied},
		{"query-prefix-of-own", "dynamodb:Query", billingCatalogARN, tenant("ab", leading("USAGE#a")), iamsim.ImplicitlyDenied},
		{"query-wildcard-literal", "dynamodb:Query", billingCatalogARN, tenant("ab", leading("USAGE#*")), iamsim.ImplicitlyDenied},
		{"query-own-tenant-record", "dynamodb:Query", billingCatalogARN, tenant("ab", leading("TENANT#ab")), iamsim.ImplicitlyDenied},
		{"query-outbox", "dynamodb:Query", billingCatalogARN, tenant("ab", leading("OUTBOX")), iamsim.ImplicitlyDenied},
		{"query-no-leading-keys", "dynamodb:Query", billingCatalogARN, tenant("ab", nil), iamsim.ImplicitlyDenied},
		{"query-untagged", "dynamodb:Query", billingCatalogARN, leading("USAGE#ab"), iamsim.ImplicitlyDenied},
		{"get-own-ledger", "dynamodb:GetItem", billingCatalogARN, tenant("ab", leading("USAGE#ab")), iamsim.ImplicitlyDenied},
		{"put-own-ledger", "dynamodb:PutItem", billingCatalogARN, tenant("ab", leading("USAGE#ab")), iamsim.ImplicitlyDenied},
		{"delete-own-tiers", "dynamodb:DeleteItem", billingCatalogARN, tenant("ab", leading("TIERS#ab")), iamsim.ImplicitlyDenied},
		{"query-catalog-index", "dynamodb:Query", billingCatalogARN + "/index/tenants", tenant("ab", leading("USAGE#ab")), iamsim.ImplicitlyDenied},
		{"scan-catalog", "dynamodb:Scan", billingCatalogARN, tenant("ab", nil), iamsim.ExplicitlyDenied},
		// Tenant cd's session reads its own, not ab's.
		{"cd-query-own-ledger", "dynamodb:Query", billingCatalogARN, tenant("cd", leading("USAGE#cd")), iamsim.Allowed},
		{"cd-query-ab-ledger", "dynamodb:Query", billingCatalogARN, tenant("cd", leading("USAGE#ab")), iamsim.ImplicitlyDenied},
	}
	script := iamsim.Script(t)
	reqs := make([]iamsim.Request, len(cases))
	for i, c := range cases {
		reqs[i] = iamsim.Request{Name: c.name, IdentityPolicies: []json.RawMessage{policy}, Principal: sessionARN,
			Action: c.action, Resource: c.resource, AccountID: simAccount, Context: c.ctx}
	}
	results, err := iamsim.Run(script, reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		res := results[i]
		t.Run(c.name, func(t *testing.T) {
			if res.Error != "" || len(res.IgnoredContextKeys) > 0 {
				t.Fatalf("simulator: %s, ignored %v", res.Error, res.IgnoredContextKeys)
			}
			if res.Decision != c.want {
				t.Errorf("%s %s -> %s, want %s (allowed by %v)", c.action, c.resource, res.Decision, c.want, res.AllowedBy)
			}
			if c.want == iamsim.Allowed && !slices.ContainsFunc(res.AllowedBy, func(s string) bool { return strings.HasSuffix(s, "/OwnBillingRecordsOnly") }) {
				t.Errorf("allowed by %v, want OwnBillingRecordsOnly", res.AllowedBy)
			}
		})
	}
}
