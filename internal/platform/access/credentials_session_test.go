package access

import (
	"regexp"
	"strings"
	"testing"
)

// stsSessionName is what STS accepts as a RoleSessionName.
var stsSessionName = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// The session name of every valid tenant id, the longest included (63
// characters, tenant.ValidID), is one STS accepts, names the tenant, and is
// its own: two ids that share their first 57 characters get two names.
func TestSessionNameFitsSTSForEveryValidTenantID(t *testing.T) {
	long := "t-" + strings.Repeat("a", 61) // 63 characters
	longTwin := long[:62] + "b"
	for _, id := range []string{"t-01jcz8w3t1k5q7r9s2v4x6y8z0", "ab", strings.Repeat("x", 57), strings.Repeat("x", 58), long, longTwin} {
		name := sessionName(id)
		if !stsSessionName.MatchString(name) {
			t.Errorf("sessionName(%q) = %q (%d characters): STS refuses it", id, name, len(name))
		}
		if !strings.HasPrefix(name, "tenant-"+id[:min(len(id), 40)]) {
			t.Errorf("sessionName(%q) = %q: does not name the tenant", id, name)
		}
	}
	if got := sessionName("t-01jcz8w3t1k5q7r9s2v4x6y8z0"); got != "tenant-t-01jcz8w3t1k5q7r9s2v4x6y8z0" {
		t.Errorf("a short id's session name = %q, want tenant-<id> as before", got)
	}
	if a, b := sessionName(long), sessionName(longTwin); a == b {
		t.Errorf("two tenants share the session name %q", a)
	}
	// Not a valid tenant id (callers check ids first), still a name STS takes.
	if a, b := sessionName("t-a#b"), sessionName("t-a*b"); !stsSessionName.MatchString(a) || a == b {
		t.Errorf("session names of ids with characters STS refuses: %q, %q", a, b)
	}
}
