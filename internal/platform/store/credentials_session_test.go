package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// A tenant id of the longest valid length (63 characters) still gets scoped
// credentials: the emulator's STS, like AWS's, refuses a RoleSessionName
// over 64 characters, and "tenant-" + a 63-character id is 70.
func TestScopedCredentialsForTheLongestTenantID(t *testing.T) {
	e := testenv.Setup(t)
	id := "t-" + strings.Repeat("l", 61)
	if !tenant.ValidID(id) || len(id) != 63 {
		t.Fatalf("%q is not a valid 63-character tenant id", id)
	}
	creds := access.NewCredentials(sts.NewFromConfig(e.Config), e.Settings.DataAccessRoleARN)
	p, err := creds.ForTenant(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("AssumeRole for a 63-character tenant id: %v", err)
	}
	if c.AccessKeyID == "" || c.SessionToken == "" {
		t.Fatalf("credentials without a key or session token: %+v", c)
	}
}
