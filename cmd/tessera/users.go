package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/settings"
)

// runUsers holds operator actions on users that go straight to the user
// pool. Locally no invitation email is sent, so set-password is how a newly
// onboarded admin gets a password.
func runUsers(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "set-password" {
		return errors.New("usage: tessera users set-password --email E [--password P] (password also from TESSERA_PASSWORD)")
	}
	fs := flag.NewFlagSet("users set-password", flag.ContinueOnError)
	email := fs.String("email", "", "user's email")
	password := fs.String("password", os.Getenv("TESSERA_PASSWORD"), "new permanent password")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *email == "" || *password == "" {
		return errors.New("users set-password: --email and --password (or TESSERA_PASSWORD) are required")
	}
	cfg, s, err := loadConfig(ctx)
	if err != nil {
		return err
	}
	if s.UserPoolID == "" {
		return fmt.Errorf("users: %s is not set: `source .local/env` first", settings.EnvUserPoolID)
	}
	if err := directory.New(cip.NewFromConfig(cfg), s.UserPoolID).SetPassword(ctx, *email, *password); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "password of %s set\n", *email)
	return nil
}
