package access_test

import (
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// TestSimTenantSessionUpdatesOnlyItsOwnSettings evaluates the real
// TenantDataAccessRole policy (with the catalog table) for the settings
// write of PUT /v1/settings (store.TenantData.PutSettings: one UpdateItem
// of the tenant's record naming pk, sk and settings, ReturnValues NONE):
// tenant ab's session may make it on its own record, and not on cd's, not
// on any other attribute of its record (tier, status, placement, flag
// overrides), not with any other action, and not with returned values that
// would read the rest of the record.
func TestSimTenantSessionUpdatesOnlyItsOwnSettings(t *testing.T) {
	res := simResources
	res.CatalogTableARN = catalogARN
	pol := access.DataAccessPolicy(res)
	write := func(leadingKey string, attrs []string, returnValues string) map[string]any {
		ctx := tenant("ab", nil)
		if leadingKey != "" {
			ctx["dynamodb:LeadingKeys"] = []string{leadingKey}
		}
		if attrs != nil {
			ctx["dynamodb:Attributes"] = attrs
		}
		if returnValues != "" {
			ctx["dynamodb:ReturnValues"] = returnValues
		}
		return ctx
	}
	own := "TENANT#ab"
	settingsOnly := []string{"pk", "sk", "settings"}
	var cases []simCase
	add := func(name, action string, ctx map[string]any, want string) {
		c := simCase{name: "settings/" + name, policy: pol, action: action, resource: catalogARN, context: ctx, want: want}
		if want == allowed {
			c.wantSid = "OwnTenantSettingsOnly"
		}
		cases = append(cases, c)
	}
	add("own", "dynamodb:UpdateItem", write(own, settingsOnly, "NONE"), allowed)
	add("own/no-return-values", "dynamodb:UpdateItem", write(own, []string{"settings"}, ""), allowed)
	add("own/updated-new", "dynamodb:UpdateItem", write(own, settingsOnly, "UPDATED_NEW"), allowed)
	add("own/all-old", "dynamodb:UpdateItem", write(own, settingsOnly, "ALL_OLD"), implicit)
	add("own/all-new", "dynamodb:UpdateItem", write(own, settingsOnly, "ALL_NEW"), implicit)
	for _, attr := range []string{"tier", "status", "placement", "flagOverrides", "usageKey", "version"} {
		add("own/with-"+attr, "dynamodb:UpdateItem", write(own, []string{"pk", "sk", "settings", attr}, "NONE"), implicit)
		add("own/only-"+attr, "dynamodb:UpdateItem", write(own, []string{attr}, "NONE"), implicit)
	}
	add("own/no-attributes", "dynamodb:UpdateItem", write(own, nil, "NONE"), implicit)
	for _, k := range []string{"TENANT#cd", "TENANT#abc", "TENANT#a", "ab#PRODUCT", "FLAGS", "USAGE#ab", "OUTBOX", "TENANT#*"} {
		add("foreign/"+k, "dynamodb:UpdateItem", write(k, settingsOnly, "NONE"), implicit)
	}
	add("no-leading-keys", "dynamodb:UpdateItem", write("", settingsOnly, "NONE"), implicit)
	for _, a := range []string{"PutItem", "DeleteItem", "GetItem", "Query"} {
		add("own/"+a, "dynamodb:"+a, write(own, settingsOnly, ""), implicit)
	}
	cases = append(cases, simCase{name: "settings/untagged", policy: pol, action: "dynamodb:UpdateItem", resource: catalogARN,
		context: map[string]any{"dynamodb:LeadingKeys": []string{"TENANT#"}, "dynamodb:Attributes": settingsOnly}, want: implicit})
	// Another tenant's session on ab's record.
	cases = append(cases, simCase{name: "settings/session-cd-on-ab", policy: pol, action: "dynamodb:UpdateItem", resource: catalogARN,
		context: map[string]any{"aws:PrincipalTag/" + access.TenantTag: "cd", "dynamodb:LeadingKeys": []string{own}, "dynamodb:Attributes": settingsOnly},
		want:    implicit})
	runSimCases(t, cases)
}

// TestSettingsNamesMatchTheStore: the policy names what the store writes.
func TestSettingsNamesMatchTheStore(t *testing.T) {
	if access.SettingsAttribute != store.SettingsAttribute || access.CatalogTenantKeyPrefix != store.CatalogTenantPrefix {
		t.Fatalf("policy names %q/%q, the store writes %q/%q", access.SettingsAttribute, access.CatalogTenantKeyPrefix,
			store.SettingsAttribute, store.CatalogTenantPrefix)
	}
}
