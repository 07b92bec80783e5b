package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/tessera-saas/tessera/internal/control/fleet"
	"github.com/tessera-saas/tessera/internal/control/provision"
	"github.com/tessera-saas/tessera/internal/control/tenantstack"
	"github.com/tessera-saas/tessera/internal/local/seed"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// The fleet benchmark (issue 15): a data migration across 100 tenants of
// 200 format-1 products each, at concurrency 1, 4 and 16, with the AWS
// requests it costs per tenant; and the rollout of a TenantStack template
// version to 20 dedicated stacks. On moto, the runner in process.

var (
	fleetOnly = flag.Bool("fleet-only", false, "measure only fleet rollouts, print them, and write them to -fleet-out")
	fleetOut  = flag.String("fleet-out", "bench/fleet.txt", "results file of -fleet-only")
)

const (
	fleetTenants  = 100
	fleetProducts = 200
	fleetStacks   = 20
)

// runFleetOnly is -fleet-only.
func runFleetOnly() error {
	report, err := fleetReport(context.Background())
	if err != nil {
		return err
	}
	fmt.Print(report)
	if err := os.MkdirAll(filepath.Dir(*fleetOut), 0o755); err != nil {
		return err
	}
	return os.WriteFile(*fleetOut, []byte(report), 0o644)
}

func fleetReport(ctx context.Context) (string, error) {
	var r strings.Builder
	line := func(f string, a ...any) {
		l := fmt.Sprintf(f, a...)
		r.WriteString(l)
		fmt.Fprint(os.Stderr, l)
	}
	line("Fleet rollouts (issue 15), %s, %s\n", motoRelease, time.Now().UTC().Format(time.RFC3339))
	line("machine: %s, %d cores; the runner in process, with each tenant's scoped credentials; each round on a fresh emulator\n\n", cpuModel(), runtime.NumCPU())
	if err := fleetRound(ctx, func(env recoveryEnv, b *backupBench, cat *store.Catalog, data *store.Store, _ *callCounter) error {
		out, err := stackRollout(ctx, env, b, cat, data)
		line("%s\n", out)
		return err
	}); err != nil {
		return r.String(), err
	}
	line("(a) Data migration 0001-product-sku-key: %d tenants x %d format-1 products (each also holds its SKU item)\n", fleetTenants, fleetProducts)
	for _, k := range []int{1, 4, 16} {
		err := fleetRound(ctx, func(env recoveryEnv, b *backupBench, cat *store.Catalog, data *store.Store, counter *callCounter) error {
			return migrateRound(ctx, env, b, cat, data, counter, k, line)
		})
		if err != nil {
			return r.String(), err
		}
	}
	return r.String(), nil
}

// fleetRound runs fn on a fresh emulator (moto keeps every stream record
// of its tables in memory, and slows down as they pile up), with a
// catalog and store whose AWS calls counter counts.
func fleetRound(ctx context.Context, fn func(recoveryEnv, *backupBench, *store.Catalog, *store.Store, *callCounter) error) error {
	set := map[string]bool{}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	b, env, stop, err := startRecoveryBench(ctx)
	defer func() {
		stop()
		for _, kv := range os.Environ() { // the emulator's environment goes with it
			if k, _, _ := strings.Cut(kv, "="); !set[k] {
				os.Unsetenv(k)
			}
		}
	}()
	if err != nil {
		return err
	}
	counter := &callCounter{n: map[string]int{}}
	cfg := env.cfg.Copy()
	counter.install(&cfg)
	cat := store.NewCatalog(store.NewClient(cfg), env.s.CatalogTable)
	data := store.New(store.NewClient(cfg), crypto.NewEnvelope(kms.NewFromConfig(cfg)), store.WithCredentials(env.creds))
	return fn(env, b, cat, data, counter)
}

// migrateRound seeds fleetTenants tenants of fleetProducts format-1
// products and times the migration's rollout at concurrency k.
func migrateRound(ctx context.Context, env recoveryEnv, b *backupBench, cat *store.Catalog, data *store.Store, counter *callCounter, k int, line func(string, ...any)) error {
	fmt.Fprintf(os.Stderr, "fleet: %d tenants of %d format-1 products...\n", fleetTenants, fleetProducts)
	only := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, fleetTenants)
	sem := make(chan struct{}, 4)
	for i := range fleetTenants {
		rec, err := b.tenant(ctx, fmt.Sprintf("fleet-%03d", i))
		if err != nil {
			return err
		}
		only[rec.TenantID] = true
		wg.Add(1)
		sem <- struct{}{}
		go func(rec catalog.Record) {
			defer wg.Done()
			defer func() { <-sem }()
			skus := make([]string, fleetProducts)
			for j := range skus {
				skus[j] = fmt.Sprintf("Bench-%03d-%04d", i, j)
			}
			if _, err := seed.LegacyProducts(ctx, b.as(rec), rec.TenantID, skus); err != nil {
				errs <- err
			}
		}(rec)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	runner, err := fleet.New(fleet.Deps{Catalog: cat, Data: data, Template: tenantstack.Version(), Log: env.quiet,
		Only: func(rec catalog.Record) bool { return only[rec.TenantID] }})
	if err != nil {
		return err
	}
	target, err := runner.Target("0001")
	if err != nil {
		return err
	}
	before := counter.snapshot()
	began := time.Now()
	rep, err := runner.Apply(ctx, target, fleet.Options{Wave: -1, MaxConcurrency: k, Actor: "bench"})
	if err != nil {
		return fmt.Errorf("apply at %d: %w", k, err)
	}
	took := time.Since(began)
	done := 0
	for _, w := range rep.Waves {
		done += w.Done
	}
	if done != fleetTenants {
		return fmt.Errorf("apply at %d migrated %d tenants, want %d", k, done, fleetTenants)
	}
	calls := diff(counter.snapshot(), before)
	keys := make([]string, 0, len(calls))
	total := 0
	for op, n := range calls {
		keys = append(keys, op)
		total += n
	}
	sort.Strings(keys)
	var per []string
	for _, op := range keys {
		per = append(per, fmt.Sprintf("%s %.1f", op, float64(calls[op])/fleetTenants))
	}
	line("    concurrency %2d: %s, %.0f items/s, %d waves; AWS requests per tenant %.1f (%s)\n", k, took.Round(10*time.Millisecond),
		float64(fleetTenants*fleetProducts)/took.Seconds(), len(rep.Waves), float64(total)/fleetTenants, strings.Join(per, ", "))
	return nil
}

func diff(after, before map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// stackRollout creates fleetStacks dedicated tenants on the previous
// template version and times the rollout of the current one.
func stackRollout(ctx context.Context, env recoveryEnv, b *backupBench, cat *store.Catalog, data *store.Store) (string, error) {
	fmt.Fprintf(os.Stderr, "fleet: %d TenantStacks on template %s...\n", fleetStacks, tenantstack.PreviousVersion())
	cfn := cloudformation.NewFromConfig(env.cfg)
	tables := provision.Tables{Stacks: cfn, Settings: env.s, Poll: 100 * time.Millisecond}
	only := map[string]bool{}
	for i := range fleetStacks {
		rec, err := b.tenant(ctx, fmt.Sprintf("stack-%02d", i))
		if err != nil {
			return "", err
		}
		table, err := tables.EnsureFrom(ctx, rec, tenantstack.PreviousTemplateBody(), tenantstack.PreviousVersion())
		if err != nil {
			return "", err
		}
		p := rec.Placement
		p.Table, p.Dedicated, p.Template = table, true, tenantstack.PreviousVersion()
		if _, err := cat.Apply(ctx, rec.TenantID, store.Change{Tier: catalog.TierPremium, Placement: &p}, nil, nil); err != nil {
			return "", err
		}
		only[rec.TenantID] = true
	}
	runner, err := fleet.New(fleet.Deps{Catalog: cat, Data: data, Stacks: tables, Template: tenantstack.Version(), Log: env.quiet,
		Only: func(rec catalog.Record) bool { return only[rec.TenantID] }})
	if err != nil {
		return "", err
	}
	target, _ := runner.Target("stack")
	var out strings.Builder
	fmt.Fprintf(&out, "(b) TenantStack rollout %s -> %s: %d dedicated stacks (UpdateStack, waited to UPDATE_COMPLETE)\n", tenantstack.PreviousVersion(), target, fleetStacks)
	began := time.Now()
	rep, err := runner.Apply(ctx, target, fleet.Options{Wave: -1, MaxConcurrency: 4, Actor: "bench"})
	if err != nil {
		return "", fmt.Errorf("stack rollout: %w", err)
	}
	took := time.Since(began)
	sizes := make([]string, 0, len(rep.Waves))
	for _, w := range rep.Waves {
		sizes = append(sizes, fmt.Sprint(w.Tenants))
	}
	updated := 0
	for id := range only {
		st, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(provision.StackName(env.s.Stage, id))})
		if err == nil && len(st.Stacks) == 1 && st.Stacks[0].StackStatus == cfntypes.StackStatusUpdateComplete {
			updated++
		}
	}
	fmt.Fprintf(&out, "    %d stacks in %s at concurrency 4 (waves %s); %d of %d UPDATE_COMPLETE\n", fleetStacks, took.Round(10*time.Millisecond),
		strings.Join(sizes, ", "), updated, fleetStacks)
	return out.String(), nil
}
