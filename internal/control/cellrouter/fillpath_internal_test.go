package cellrouter

import "testing"

func TestFillPathSubstitutesEveryParameter(t *testing.T) {
	for _, tc := range []struct {
		template string
		params   map[string]string
		want     string
	}{
		{"/v1/tenants/{id}", map[string]string{"id": "t-1"}, "/v1/tenants/t-1"},
		{"/v1/tenants/{id}/jobs/{jobId}", map[string]string{"id": "t-1", "jobId": "j-2"}, "/v1/tenants/t-1/jobs/j-2"},
		{"/v1/tenants/{id}/tier", map[string]string{"id": "a/b"}, "/v1/tenants/a%2Fb/tier"},
	} {
		if got := fillPath(tc.template, tc.params); got != tc.want {
			t.Errorf("fillPath(%q) = %q, want %q", tc.template, got, tc.want)
		}
	}
}
