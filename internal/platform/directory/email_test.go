package directory_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// emailCases: what ValidEmail must say, and whether the local user pool
// (moto) itself refuses the address. Every address the pool refuses must be
// refused up front; a few more are refused because no real address looks
// like them.
var emailCases = []struct {
	email       string
	valid       bool
	poolRefuses bool
}{
	{"ann@acme.test", true, false},
	{"Ann.Lee+tag@Sub.Acme.TEST", true, false},
	{"_x%y@acme-corp.test", true, false},
	{strings.Repeat("a", 64) + "@" + strings.Repeat("b", 53) + ".acme.test", true, false}, // 128
	{"-a@acme.test", false, true},
	{".a@acme.test", false, true},
	{"a@acme", false, true},
	{"a@b.c", false, true},
	{"a@acme.t3st", false, true},
	{"a b@acme.test", false, true},
	{"Ann <ann@acme.test>", false, true},
	{"ann@acme.test ", false, true},
	{"ännä@acme.test", false, true},
	{"a..b@acme.test", false, false},
	{"a.@acme.test", false, false},
	{"a@-acme.test", false, false},
	{"a@acme-.test", false, false},
	{"a@acme..test", false, false},
	{strings.Repeat("a", 65) + "@acme.test", false, false},
	{strings.Repeat("a", 60) + "@" + strings.Repeat("b", 58) + ".acme.test", false, false}, // 129
	{"", false, true},
	{"nope", false, true},
}

func TestValidEmailRefusesWhatTheUserPoolRefuses(t *testing.T) {
	for _, tc := range emailCases {
		if got := directory.ValidEmail(tc.email); got != tc.valid {
			t.Errorf("ValidEmail(%q) (%d chars) = %v, want %v", tc.email, len(tc.email), got, tc.valid)
		}
	}
}

// TestUserPoolAgreesWithValidEmail asks the local user pool: every address
// ValidEmail accepts is created, and a refused one comes back as
// ErrInvalidUser (a client error), never as an unclassified error.
func TestUserPoolAgreesWithValidEmail(t *testing.T) {
	e := testenv.Setup(t)
	dir := directory.New(cip.NewFromConfig(e.Config), e.Settings.UserPoolID)
	dir.Invite = false
	ctx := context.Background()
	tid := tenant.NewID()
	for i, tc := range emailCases {
		email := tc.email
		if tc.valid { // unique per run: the pool outlives one test
			email = strings.Replace(email, "@", "@"+tid[2:8]+"-", 1)
			if len(email) > directory.MaxEmailLength {
				email = email[len(email)-directory.MaxEmailLength:]
				email = "x" + email[1:]
			}
			if !directory.ValidEmail(email) {
				t.Fatalf("case %d: made-unique %q is not valid", i, email)
			}
		}
		_, err := dir.Create(ctx, tid, tenant.RoleMember, email)
		switch {
		case tc.valid && err != nil:
			t.Errorf("pool refused valid %q: %v", email, err)
		case tc.poolRefuses && !errors.Is(err, directory.ErrInvalidUser):
			t.Errorf("pool's refusal of %q is %v, want ErrInvalidUser", email, err)
		}
	}
}
