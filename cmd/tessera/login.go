package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/tessera-saas/tessera/internal/platform/idtoken"
	"github.com/tessera-saas/tessera/internal/platform/settings"
)

func runLogin(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("login", flag.ContinueOnError)
	email := fs.String("email", "", "user's email (required)")
	password := fs.String("password", "", "password (default: $TESSERA_PASSWORD, else read from standard input)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *email == "" {
		return errors.New("login: --email is required")
	}
	pw := *password
	if pw == "" {
		pw = os.Getenv("TESSERA_PASSWORD")
	}
	if pw == "" {
		fmt.Fprint(os.Stderr, "password: ")
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("login: read password: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	cfg, s, err := loadConfig(ctx)
	if err != nil {
		return err
	}
	if s.AppClientID == "" {
		return fmt.Errorf("login: %s is not set: `source .local/env` first", settings.EnvAppClientID)
	}
	tok, err := idtoken.Login(ctx, cip.NewFromConfig(cfg), s.AppClientID, *email, pw)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	fmt.Println(tok)
	return nil
}
