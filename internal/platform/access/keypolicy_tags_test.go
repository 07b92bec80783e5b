package access_test

import (
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/access"
)

// TestTenantKeyPolicyTagging checks who may change a tenant key's tags, on
// which IAM conditions (the data-access role's, the provisioner's) rely:
// the account root may neither tag nor untag (so IAM policies in the
// account cannot either), nobody may untag, and the provisioner may only
// set tenantId=<this tenant> and stage=<this stage>. And no statement
// grants kms:Encrypt, which nothing uses.
func TestTenantKeyPolicyTagging(t *testing.T) {
	const admin = "arn:aws:iam::123456789012:role/provisioner"
	pol := access.TenantKeyPolicy(access.KeyPolicyParams{
		Stage: "dev", Partition: "aws", Account: "123456789012", Region: "us-east-1", TenantID: "t-ab",
		DataAccessRoleARN: "arn:aws:iam::123456789012:role/TenantDataAccessRole-dev", AdminRoleARN: admin,
	})
	grants := func(st access.Statement, action string) bool {
		return slices.ContainsFunc(st.Action, func(p string) bool { return actionMatches(p, action) })
	}
	var taggers []access.Statement
	for _, st := range pol.Statement {
		if st.Effect != "Allow" {
			continue
		}
		for _, a := range []string{"kms:UntagResource", "kms:Encrypt"} {
			if grants(st, a) {
				t.Errorf("%s grants %s to %v", st.Sid, a, st.Principal)
			}
		}
		if grants(st, "kms:TagResource") {
			taggers = append(taggers, st)
		}
	}
	if len(taggers) != 1 {
		t.Fatalf("%d statements allow kms:TagResource, want 1: %+v", len(taggers), taggers)
	}
	st := taggers[0]
	if !slices.Equal(st.Action, []string{"kms:TagResource"}) || !slices.Equal(st.Principal["AWS"], []string{admin}) || len(st.Principal) != 1 {
		t.Errorf("tagging statement %s: actions %v, principal %v; want only kms:TagResource, only %s", st.Sid, st.Action, st.Principal, admin)
	}
	want := map[string]access.Condition{
		"StringEquals":              {"aws:RequestTag/" + access.TenantTag: {"t-ab"}, "aws:RequestTag/" + access.StageTag: {"dev"}},
		"ForAllValues:StringEquals": {"aws:TagKeys": {access.TenantTag, access.StageTag}},
	}
	if !reflect.DeepEqual(st.Condition, want) {
		t.Errorf("tagging conditions = %v, want %v", st.Condition, want)
	}
	if slices.Contains(access.KeyActions, "kms:Encrypt") {
		t.Errorf("access.KeyActions = %v: kms:Encrypt is used by nothing", access.KeyActions)
	}
}

// actionMatches reports whether the IAM action pattern (wildcards allowed,
// case-insensitive) grants action.
func actionMatches(pattern, action string) bool {
	matched, _ := path.Match(strings.ToLower(pattern), strings.ToLower(action))
	return matched
}
