package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/tessera-saas/tessera/internal/local/bootstrap"
	"github.com/tessera-saas/tessera/internal/local/emulator"
)

func runEmulator(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	envFile := fs.String("env-file", ".local/emulator.env", "where to write the emulators' environment")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := emulator.Start(ctx, emulator.Options{})
	if err != nil {
		return err
	}
	defer st.Stop()
	if err := writeEnvFile(*envFile, st.Env()); err != nil {
		return err
	}
	fmt.Printf("emulators up (%s): %s, KMS %s; environment in %s; Ctrl-C stops them\n", st.Engine, st.Endpoint, st.KMSEndpoint, *envFile)
	<-ctx.Done()
	return nil
}

func runBootstrap(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bootstrap", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, s, err := loadConfig(ctx)
	if err != nil {
		return err
	}
	if s, err = bootstrap.Run(ctx, cfg, s); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	for k, v := range s.Env() {
		fmt.Printf("export %s=%q\n", k, v)
	}
	return nil
}
