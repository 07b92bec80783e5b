package settings

import "testing"

func TestUserPoolRegionIsThePoolIDsPrefix(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-central-1")
	for _, c := range []struct{ id, want string }{
		{"eu-west-1_AbC123", "eu-west-1"},
		{"us-gov-west-1_x", "us-gov-west-1"},
		{"ap-southeast-2_Zz9", "ap-southeast-2"},
		{"eu-central-1_q", "eu-central-1"},
		{"", "eu-central-1"},           // no pool yet: the function's Region
		{"local_pool", "eu-central-1"}, // not a Region before the '_'
		{"EU-WEST-1_x", "eu-central-1"},
	} {
		if got := (Settings{UserPoolID: c.id}).UserPoolRegion(); got != c.want {
			t.Errorf("UserPoolRegion(%q) = %q, want %q", c.id, got, c.want)
		}
	}
}
