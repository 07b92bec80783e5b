package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

const flagsUsage = `Usage: tessera flags <command> [flags]

  list [--cell C] [--json]                    every flag definition: kind, default, per-tier values, rollout
  set NAME --kind boolean|integer|string --default V [--tier basic=V ...] [--rollout PERCENT=V]
           [--description D] [--version N] [--cell C]
                                              define a flag (or replace a built-in); --version is the
                                              version last read (default: the current one)
  override TENANT_ID NAME VALUE|--clear       set (or clear) one tenant's value of a flag

A tenant's value is, in this order: its override, the rollout (PERCENT of the tenants,
chosen by a hash of flag and tenant), its tier's value, the default. Functions see a
change within the catalog TTL. Through a cell router, list and set need --cell.

Talks to $TESSERA_API (or --api) with an operator's ID token from $TESSERA_TOKEN (or --token).
`

// repeated collects a repeatable flag's values.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func runFlags(ctx context.Context, args []string) error {
	return flagsCommand(ctx, args, os.Stdout)
}

func flagsCommand(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, flagsUsage)
		return errors.New("flags: a command is required")
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("flags "+cmd, flag.ContinueOnError)
	api := fs.String("api", os.Getenv("TESSERA_API"), "API base URL")
	token := fs.String("token", os.Getenv("TESSERA_TOKEN"), "operator ID token")
	cellID := fs.String("cell", "", "the cell, through a cell router (list, set)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table (list)")
	kind := fs.String("kind", "", "boolean, integer or string (set)")
	def := fs.String("default", "", "the default value (set)")
	var tiers repeated
	fs.Var(&tiers, "tier", "TIER=VALUE, repeatable (set)")
	rollout := fs.String("rollout", "", "PERCENT=VALUE (set)")
	desc := fs.String("description", "", "what the flag is for (set)")
	version := fs.Int64("version", -1, "the version last read (set; default: the current one)")
	clear := fs.Bool("clear", false, "remove the tenant's override (override)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	c, err := operatorClient("flags", *api, *token)
	if err != nil {
		return err
	}
	q := url.Values{}
	if *cellID != "" {
		q.Set("cell", *cellID)
	}
	withCell := func(p string) string {
		if len(q) == 0 {
			return p
		}
		return p + "?" + q.Encode()
	}
	switch cmd {
	case "list":
		if len(pos) != 0 {
			return fmt.Errorf("flags list: expected no argument, got %d", len(pos))
		}
		out, err := c.do(ctx, "GET", withCell("/v1/flags"), nil, nil)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, out)
		}
		return printFlags(stdout, out)
	case "set":
		if len(pos) != 1 {
			return fmt.Errorf("flags set: expected NAME, got %d argument(s)", len(pos))
		}
		name := pos[0]
		body, err := flagDefinition(*kind, *def, tiers, *rollout, *desc)
		if err != nil {
			return err
		}
		v := *version
		if v < 0 { // the version in force now
			if v, err = currentVersion(ctx, c, withCell("/v1/flags"), name); err != nil {
				return err
			}
		}
		body["version"] = v
		out, err := c.do(ctx, "PUT", withCell("/v1/flags/"+url.PathEscape(name)), body, nil)
		if err != nil {
			return err
		}
		return printJSON(stdout, out)
	case "override":
		var value any
		switch {
		case *clear && len(pos) == 2:
		case !*clear && len(pos) == 3:
			value = parseValue(pos[2])
		default:
			return errors.New("flags override: expected TENANT_ID NAME VALUE, or TENANT_ID NAME --clear")
		}
		out, err := c.do(ctx, "PUT", "/v1/tenants/"+url.PathEscape(pos[0])+"/flags/"+url.PathEscape(pos[1]), map[string]any{"value": value}, nil)
		if err != nil {
			return err
		}
		rec, _ := out.(map[string]any)
		return printJSON(stdout, map[string]any{"tenantId": rec["tenantId"], "flagOverrides": rec["flagOverrides"]})
	default:
		fmt.Fprint(os.Stderr, flagsUsage)
		return fmt.Errorf("flags: unknown command %q", cmd)
	}
}

// flagDefinition is the body of PUT /v1/flags/{name} from the command's
// flags, values parsed as kind says.
func flagDefinition(kind, def string, tiers []string, rollout, desc string) (map[string]any, error) {
	parse := func(what, s string) (any, error) {
		switch kind {
		case "boolean":
			b, err := strconv.ParseBool(s)
			if err != nil {
				return nil, fmt.Errorf("flags set: %s %q is not a boolean", what, s)
			}
			return b, nil
		case "integer":
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("flags set: %s %q is not an integer", what, s)
			}
			return n, nil
		case "string":
			return s, nil
		}
		return nil, fmt.Errorf("flags set: --kind must be boolean, integer or string, not %q", kind)
	}
	d, err := parse("--default", def)
	if err != nil {
		return nil, err
	}
	body := map[string]any{"kind": kind, "default": d}
	if desc != "" {
		body["description"] = desc
	}
	if len(tiers) > 0 {
		td := map[string]any{}
		for _, t := range tiers {
			tier, v, ok := strings.Cut(t, "=")
			if !ok {
				return nil, fmt.Errorf("flags set: --tier %q is not TIER=VALUE", t)
			}
			if td[tier], err = parse("--tier "+tier, v); err != nil {
				return nil, err
			}
		}
		body["tierDefaults"] = td
	}
	if rollout != "" {
		p, v, ok := strings.Cut(rollout, "=")
		percent, perr := strconv.Atoi(strings.TrimSuffix(p, "%"))
		if !ok || perr != nil {
			return nil, fmt.Errorf("flags set: --rollout %q is not PERCENT=VALUE", rollout)
		}
		rv, err := parse("--rollout value", v)
		if err != nil {
			return nil, err
		}
		body["rollout"] = map[string]any{"percent": percent, "value": rv}
	}
	return body, nil
}

// currentVersion is the version of flag name in force (0 for a built-in
// or a new flag).
func currentVersion(ctx context.Context, c client, path, name string) (int64, error) {
	out, err := c.do(ctx, "GET", path, nil, nil)
	if err != nil {
		return 0, err
	}
	items, _ := out.(map[string]any)["items"].([]any)
	for _, it := range items {
		if f, _ := it.(map[string]any); f["name"] == name {
			v, _ := f["version"].(float64)
			return int64(v), nil
		}
	}
	return 0, nil
}

// parseValue reads an override's value: JSON when it is (true, 42,
// "quoted"), else the text as a string.
func parseValue(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err == nil && v != nil {
		return v
	}
	return s
}

// printFlags prints the definitions as a table.
func printFlags(w io.Writer, out any) error {
	items, _ := out.(map[string]any)["items"].([]any)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tDEFAULT\tTIERS\tROLLOUT\tVERSION")
	for _, it := range items {
		f, _ := it.(map[string]any)
		var tiers []string
		if td, ok := f["tierDefaults"].(map[string]any); ok {
			for t, v := range td {
				tiers = append(tiers, t+"="+flagValue(v))
			}
			sort.Strings(tiers)
		}
		roll := "-"
		if r, ok := f["rollout"].(map[string]any); ok {
			roll = fmt.Sprintf("%v%%=%s", r["percent"], flagValue(r["value"]))
		}
		fmt.Fprintf(tw, "%v\t%v\t%s\t%s\t%s\t%v\n", f["name"], f["kind"], flagValue(f["default"]), strings.Join(tiers, " "), roll, f["version"])
	}
	return tw.Flush()
}

// flagValue prints a value as the API sent it: a JSON number in full
// (10000000, where %v of its float64 would print 1e+07).
func flagValue(v any) string {
	if n, ok := v.(float64); ok {
		return strconv.FormatFloat(n, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}
