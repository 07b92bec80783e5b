package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/access/iamsim"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// aslState is one state of an Amazon States Language definition.
type aslState = map[string]any

// fleetASL is the fleet state machine's definition as synthesized, with
// every state by name (nested ones included), and the logical ids it
// references.
type fleetASL struct {
	Def    map[string]any
	States map[string]aslState
	// Top and Wave are the names of the top-level states and of the
	// states of one wave (the Waves map's iteration).
	Top, Wave map[string]aslState
	// Logical ids: the state machine, its role, the fleet function, the
	// approval topic.
	MachineID, RoleID, FunctionID, TopicID string
}

// fleetDefinition parses the fleet state machine's DefinitionString: an
// Fn::Join of JSON text and references, which flatten renders as one string
// with the references as "${Id.Arn}" and "${AWS::Partition}" inside the
// JSON strings that held them.
func fleetDefinition(t *testing.T, s *synthesized) fleetASL {
	t.Helper()
	a := fleetASL{
		MachineID:  s.AppJSON.logicalID(t, "AWS::StepFunctions::StateMachine", "FleetStateMachine"),
		FunctionID: s.AppJSON.logicalID(t, "AWS::Lambda::Function", fnID(functionFleet)+"Function"),
		TopicID:    s.AppJSON.logicalID(t, "AWS::SNS::Topic", "FleetApprovalTopic"),
	}
	sm := props(s.AppJSON.resources("AWS::StepFunctions::StateMachine")[a.MachineID])
	text := flatten(sm["DefinitionString"])
	if err := json.Unmarshal([]byte(text), &a.Def); err != nil {
		t.Fatalf("fleet state machine definition is not JSON once flattened: %v\n%s", err, text)
	}
	att, _ := sm["RoleArn"].(map[string]any)["Fn::GetAtt"].([]any)
	if len(att) != 2 {
		t.Fatalf("fleet state machine RoleArn = %s, want a GetAtt of its role", jsonOf(sm["RoleArn"]))
	}
	a.RoleID = att[0].(string)
	a.States = map[string]aslState{}
	var collect func(graph map[string]any) map[string]aslState
	collect = func(graph map[string]any) map[string]aslState {
		level := map[string]aslState{}
		states, _ := graph["States"].(map[string]any)
		for name, v := range states {
			st := v.(map[string]any)
			if _, dup := a.States[name]; dup {
				t.Errorf("state name %q appears twice", name)
			}
			a.States[name], level[name] = st, st
			if proc, ok := st["ItemProcessor"].(map[string]any); ok {
				collect(proc)
			}
		}
		return level
	}
	a.Top = collect(a.Def)
	waves, ok := a.Top["Waves"]
	if !ok {
		t.Fatalf("no top-level Waves state in %s", text)
	}
	a.Wave = map[string]aslState{}
	for name := range waves["ItemProcessor"].(map[string]any)["States"].(map[string]any) {
		a.Wave[name] = a.States[name]
	}
	return a
}

// state returns the named state, failing the test without it.
func (a fleetASL) state(t *testing.T, name string) aslState {
	t.Helper()
	st, ok := a.States[name]
	if !ok {
		t.Fatalf("no state %q in the fleet state machine", name)
	}
	return st
}

// successors are the states a state may hand over to: Next, Default, its
// choices' and its catchers' Next.
func successors(st aslState) []string {
	var out []string
	if n, ok := st["Next"].(string); ok {
		out = append(out, n)
	}
	if n, ok := st["Default"].(string); ok {
		out = append(out, n)
	}
	for _, c := range list(st["Choices"]) {
		if n, ok := c.(map[string]any)["Next"].(string); ok {
			out = append(out, n)
		}
	}
	for _, c := range list(st["Catch"]) {
		if n, ok := c.(map[string]any)["Next"].(string); ok {
			out = append(out, n)
		}
	}
	return out
}

// reachable is the set of states reachable from start in states (one
// graph level) without passing through avoid.
func reachable(states map[string]aslState, start, avoid string) map[string]bool {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(name string) {
		if name == avoid || seen[name] {
			return
		}
		st, ok := states[name]
		if !ok {
			return
		}
		seen[name] = true
		for _, n := range successors(st) {
			walk(n)
		}
	}
	walk(start)
	return seen
}

// path follows Next from start to (not including) end, failing if the
// chain branches or does not reach end.
func path(t *testing.T, states map[string]aslState, start, end string) []string {
	t.Helper()
	var out []string
	for name := start; name != end; {
		st, ok := states[name]
		if !ok || len(out) > len(states) {
			t.Fatalf("no straight path from %q to %q (stopped at %q after %v)", start, end, name, out)
		}
		if st["Type"] == "Choice" {
			t.Fatalf("path from %q to %q branches at %q", start, end, name)
		}
		out = append(out, name)
		name, _ = st["Next"].(string)
	}
	return out
}

// subset reports how got differs from want, where every key of want (and,
// recursively, of its objects) must be in got with an equal value.
func subset(got any, want any, at string) []string {
	wm, ok := want.(map[string]any)
	if !ok {
		if jsonOf(got) != jsonOf(want) {
			return []string{fmt.Sprintf("%s = %s, want %s", at, jsonOf(got), jsonOf(want))}
		}
		return nil
	}
	gm, ok := got.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s = %s, want an object", at, jsonOf(got))}
	}
	var diffs []string
	for k, w := range wm {
		g, ok := gm[k]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s.%s missing, want %s", at, k, jsonOf(w)))
			continue
		}
		diffs = append(diffs, subset(g, w, at+"."+k)...)
	}
	return diffs
}

// TestFleetStateMachineStates checks the fields of each state that make
// the rollout: the plan, the Waves map over the plan's waves one at a time
// (inline), the approval with its task token and timeout, the Distributed
// Map over one wave's tenants with its concurrency and tolerance from the
// input, and the per-tenant apply.
func TestFleetStateMachineStates(t *testing.T) {
	s := synth(t)
	a := fleetDefinition(t, s)
	fn := "${" + a.FunctionID + ".Arn}"
	lambdaInvoke := "arn:${AWS::Partition}:states:::lambda:invoke"
	for _, c := range []struct {
		state string
		want  map[string]any
	}{
		{"Plan", map[string]any{
			"Type": "Task", "Resource": lambdaInvoke, "ResultPath": "$.plan",
			"ResultSelector": map[string]any{"waves.$": "$.Payload.waves"},
			"Parameters": map[string]any{"FunctionName": fn,
				"Payload": map[string]any{"action": "plan", "target.$": "$.target"}},
			"Next": "Waves",
		}},
		{"Waves", map[string]any{
			"Type": "Map", "ItemsPath": "$.plan.waves",
			// Waves in order: one at a time.
			"MaxConcurrency": 1,
			"ItemSelector": map[string]any{
				"wave.$": "$$.Map.Item.Value.wave", "tenants.$": "$$.Map.Item.Value.tenants",
				"target.$": "$.target", "actor.$": "$.actor",
				"maxConcurrency.$": "$.maxConcurrency", "toleratedFailurePercentage.$": "$.toleratedFailurePercentage",
			},
			"ItemProcessor": map[string]any{"ProcessorConfig": map[string]any{"Mode": "INLINE"}, "StartAt": "Canary wave?"},
		}},
		{"Await approval", map[string]any{
			"Type":           "Task",
			"Resource":       "arn:${AWS::Partition}:states:::sns:publish.waitForTaskToken",
			"TimeoutSeconds": fleetApprovalTimeout.Seconds(),
			"ResultPath":     nil,
			"Parameters": map[string]any{
				"TopicArn": "${" + a.TopicID + "}",
				"Message": map[string]any{
					"taskToken.$": "$$.Task.Token", "target.$": "$.target", "wave.$": "$.wave",
					"execution.$": "$$.Execution.Id",
				},
			},
		}},
		{"Apply wave", map[string]any{
			"Type": "Map", "ItemsPath": "$.tenants",
			"ItemSelector": map[string]any{
				"tenantId.$": "$$.Map.Item.Value", "target.$": "$.target", "actor.$": "$.actor", "wave.$": "$.wave",
			},
			"MaxConcurrencyPath":             "$.maxConcurrency",
			"ToleratedFailurePercentagePath": "$.tolerance",
			"ItemProcessor": map[string]any{
				"ProcessorConfig": map[string]any{"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
				"StartAt":         "Apply to tenant",
			},
			// Only the wave's summary goes on (the tenants' results would
			// grow the state with the wave).
			"ResultPath": nil,
			"Next":       "Wave applied",
		}},
		{"Apply to tenant", map[string]any{
			"Type": "Task", "Resource": lambdaInvoke, "End": true,
			"Parameters": map[string]any{"FunctionName": fn, "Payload": map[string]any{
				"action": "apply", "target.$": "$.target", "tenantId.$": "$.tenantId", "actor.$": "$.actor", "wave.$": "$.wave",
			}},
		}},
		{"Rollout halted", map[string]any{"Type": "Fail", "ErrorPath": "$.halt.Error", "CausePath": "$.halt.Cause"}},
		{"Approval timed out", map[string]any{"Type": "Fail", "Error": "Fleet.ApprovalTimeout"}},
	} {
		t.Run(c.state, func(t *testing.T) {
			for _, d := range subset(a.state(t, c.state), c.want, c.state) {
				t.Error(d)
			}
		})
	}

	// The Distributed Map is the one of its kind, reads no S3 items and
	// sets no fixed concurrency or tolerance that would override the paths.
	applyWave := a.state(t, "Apply wave")
	for _, k := range []string{"ItemReader", "MaxConcurrency", "ToleratedFailurePercentage", "ToleratedFailureCount", "ToleratedFailureCountPath"} {
		if v, ok := applyWave[k]; ok {
			t.Errorf("Apply wave has %s = %s", k, jsonOf(v))
		}
	}
	var distributed []string
	for name, st := range a.States {
		proc, _ := st["ItemProcessor"].(map[string]any)
		if cfg, _ := proc["ProcessorConfig"].(map[string]any); cfg["Mode"] == "DISTRIBUTED" {
			distributed = append(distributed, name)
		}
	}
	if !slices.Equal(distributed, []string{"Apply wave"}) {
		t.Errorf("Distributed Maps %v, want only Apply wave", distributed)
	}
	if got := jsonOf(keys(a.Wave)); got != jsonOf(sorted([]string{"Canary wave?", "Canary tolerates no failure", "Await approval",
		"Approval timed out", "Wave tolerance", "Apply wave", "Wave applied"})) {
		t.Errorf("a wave's states: %s", got)
	}

	// The whole rollout is bounded, and the machine is a standard one
	// (an approval outlasts an Express workflow).
	sm := props(s.AppJSON.resources("AWS::StepFunctions::StateMachine")[a.MachineID])
	if sm["StateMachineType"] != "STANDARD" || sm["StateMachineName"] != "tessera-"+testStage+"-fleet" {
		t.Errorf("state machine type %v name %v, want STANDARD tessera-%s-fleet", sm["StateMachineType"], sm["StateMachineName"], testStage)
	}
	if got := a.Def["TimeoutSeconds"]; jsonOf(got) != jsonOf(fleetExecutionTimeout.Seconds()) {
		t.Errorf("TimeoutSeconds = %v, want %v", got, fleetExecutionTimeout.Seconds())
	}
}

// TestFleetInputChecked checks that an execution starts with a check of
// its input and fails on a bad one: maxConcurrency at least 1 (a
// Distributed Map takes 0 for no limit) and at most fleetMaxConcurrency,
// the tolerance a percentage, target and actor strings.
func TestFleetInputChecked(t *testing.T) {
	a := fleetDefinition(t, synth(t))
	if a.Def["StartAt"] != "Check input" {
		t.Fatalf("StartAt = %v, want Check input", a.Def["StartAt"])
	}
	check := a.state(t, "Check input")
	if check["Type"] != "Choice" || len(list(check["Choices"])) != 1 {
		t.Fatalf("Check input: %s, want a Choice with one rule", jsonOf(check))
	}
	if def, _ := check["Default"].(string); a.States[def]["Type"] != "Fail" {
		t.Errorf("Check input's default %q is not a Fail state", def)
	}
	rule := list(check["Choices"])[0].(map[string]any)
	if rule["Next"] != "Plan" {
		t.Errorf("a valid input goes to %v, want Plan", rule["Next"])
	}
	// Every condition of the rule, flattened (it is an And of Ands).
	var conds []string
	var walk func(any)
	walk = func(v any) {
		m := v.(map[string]any)
		if and, ok := m["And"]; ok {
			for _, c := range list(and) {
				walk(c)
			}
			return
		}
		if m["Or"] != nil || m["Not"] != nil {
			t.Errorf("Check input uses Or/Not: %s", jsonOf(m))
		}
		conds = append(conds, jsonOf(m))
	}
	walk(rule)
	for _, want := range []map[string]any{
		{"Variable": "$.target", "IsString": true},
		{"Variable": "$.actor", "IsString": true},
		{"Variable": "$.maxConcurrency", "IsNumeric": true},
		{"Variable": "$.maxConcurrency", "NumericGreaterThanEquals": 1},
		{"Variable": "$.maxConcurrency", "NumericLessThanEquals": fleetMaxConcurrency},
		{"Variable": "$.toleratedFailurePercentage", "IsNumeric": true},
		{"Variable": "$.toleratedFailurePercentage", "NumericGreaterThanEquals": 0},
		{"Variable": "$.toleratedFailurePercentage", "NumericLessThanEquals": 100},
	} {
		if !slices.Contains(conds, jsonOf(want)) {
			t.Errorf("Check input lacks %s (has %v)", jsonOf(want), conds)
		}
	}
}

// TestFleetApprovalBetweenWaves checks one wave's flow: wave 0 (the
// canaries) goes to the Distributed Map without an approval and with a
// tolerance of 0 %; every other wave reaches the Distributed Map only
// through the approval, and with the input's tolerance.
func TestFleetApprovalBetweenWaves(t *testing.T) {
	a := fleetDefinition(t, synth(t))
	start := a.state(t, "Waves")["ItemProcessor"].(map[string]any)["StartAt"].(string)
	choice := a.Wave[start]
	if choice["Type"] != "Choice" {
		t.Fatalf("a wave starts with %s, want a Choice on the wave number", jsonOf(choice))
	}
	rules := list(choice["Choices"])
	if len(rules) != 1 {
		t.Fatalf("%s has %d rules, want 1 (wave 0)", start, len(rules))
	}
	rule := rules[0].(map[string]any)
	if jsonOf(map[string]any{"Variable": rule["Variable"], "NumericEquals": rule["NumericEquals"]}) != jsonOf(map[string]any{"Variable": "$.wave", "NumericEquals": 0}) {
		t.Fatalf("%s rule %s, want $.wave == 0", start, jsonOf(rule))
	}
	canaryStart, otherStart := rule["Next"].(string), choice["Default"].(string)

	for _, c := range []struct {
		name  string
		start string
		// approval: the branch passes through the approval.
		approval bool
		// tolerance is the state on the branch that sets $.tolerance.
		tolerance map[string]any
	}{
		{"wave 0 (canaries)", canaryStart, false, map[string]any{"Type": "Pass", "Result": 0, "ResultPath": "$.tolerance"}},
		{"waves after 0", otherStart, true, map[string]any{"Type": "Pass", "InputPath": "$.toleratedFailurePercentage", "ResultPath": "$.tolerance"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			all := reachable(a.Wave, c.start, "")
			if !all["Apply wave"] {
				t.Fatalf("Apply wave is not reachable from %s", c.start)
			}
			if all["Await approval"] != c.approval {
				t.Errorf("approval on the branch: %v, want %v", all["Await approval"], c.approval)
			}
			if c.approval && reachable(a.Wave, c.start, "Await approval")["Apply wave"] {
				t.Error("Apply wave is reachable without passing the approval")
			}
			var setters []string
			for _, name := range path(t, a.Wave, c.start, "Apply wave") {
				st := a.Wave[name]
				rp, has := st["ResultPath"]
				switch {
				case rp == "$.tolerance":
					setters = append(setters, name)
					for _, d := range subset(st, c.tolerance, name) {
						t.Error(d)
					}
					if st["Parameters"] != nil || st["OutputPath"] != nil {
						t.Errorf("%s also reshapes its input: %s", name, jsonOf(st))
					}
				case st["Type"] == "Task" && has && rp != "$" && st["OutputPath"] == nil:
					// Its result goes elsewhere (or nowhere): its input,
					// the tolerance included, goes on.
				default:
					t.Errorf("%s may drop $.tolerance: %s", name, jsonOf(st))
				}
			}
			if len(setters) != 1 {
				t.Errorf("states setting $.tolerance before Apply wave: %v, want one", setters)
			}
		})
	}
	// Nothing else writes the tolerance.
	for name, st := range a.States {
		if st["ResultPath"] == "$.tolerance" && name != "Canary tolerates no failure" && name != "Wave tolerance" {
			t.Errorf("%s also sets $.tolerance", name)
		}
	}
}

// TestFleetFailuresHalt checks that a failure ends the rollout: no catcher
// anywhere leads anywhere but a Fail state; a tenant's failure is not
// caught (it counts against the wave's tolerance); the tasks retry Lambda's
// service errors, and the apply a busy tenant (fleetBusyError), never
// another error of the function; and the Waves map's catcher keeps the
// original error.
func TestFleetFailuresHalt(t *testing.T) {
	a := fleetDefinition(t, synth(t))
	for name, st := range a.States {
		for _, c := range list(st["Catch"]) {
			next := c.(map[string]any)["Next"].(string)
			if a.States[next]["Type"] != "Fail" {
				t.Errorf("%s catches %s and goes on to %s, not a Fail state", name, jsonOf(c.(map[string]any)["ErrorEquals"]), next)
			}
		}
		if st["Type"] != "Task" {
			if st["Retry"] != nil {
				t.Errorf("%s retries: %s", name, jsonOf(st["Retry"]))
			}
			continue
		}
		if strings.Contains(jsonOf(st["Resource"]), "lambda:invoke") {
			retries := list(st["Retry"])
			if len(retries) == 0 {
				t.Errorf("%s does not retry Lambda's service errors", name)
			}
			var retried []string
			for _, r := range retries {
				retried = append(retried, strs(r.(map[string]any)["ErrorEquals"])...)
			}
			want := slices.Clone(fleetLambdaErrors)
			if name == "Apply to tenant" {
				want = append(want, fleetBusyError)
			}
			for _, e := range retried {
				if !slices.Contains(want, e) || !strings.HasPrefix(e, "Lambda.") && e != fleetBusyError {
					t.Errorf("%s retries %s, neither a Lambda service error nor a busy tenant", name, e)
				}
			}
			if !slices.Equal(sorted(retried), sorted(want)) {
				t.Errorf("%s retries %v, want %v", name, retried, want)
			}
		}
	}
	if c := a.state(t, "Apply to tenant")["Catch"]; c != nil {
		t.Errorf("Apply to tenant catches %s: a failed tenant must fail its item", jsonOf(c))
	}
	catches := list(a.state(t, "Waves")["Catch"])
	if len(catches) != 1 || jsonOf(catches[0].(map[string]any)["ErrorEquals"]) != `["States.ALL"]` || catches[0].(map[string]any)["Next"] != "Rollout halted" {
		t.Errorf("Waves catches %s, want States.ALL -> Rollout halted", jsonOf(catches))
	}
	catches = list(a.state(t, "Await approval")["Catch"])
	if len(catches) != 1 || jsonOf(catches[0].(map[string]any)["ErrorEquals"]) != `["States.Timeout"]` {
		t.Errorf("Await approval catches %s, want only States.Timeout", jsonOf(catches))
	}
	// Only the two Lambda tasks and the approval are tasks.
	var tasks []string
	for name, st := range a.States {
		if st["Type"] == "Task" {
			tasks = append(tasks, name)
		}
	}
	if got := sorted(tasks); !slices.Equal(got, []string{"Apply to tenant", "Await approval", "Plan"}) {
		t.Errorf("tasks %v", got)
	}
}

// TestFleetStateMachineRole checks the state machine role: trusted by Step
// Functions only, and allowed to invoke the fleet function and no other,
// publish to the approval topic and no other, run its own Distributed Map
// child executions, and deliver its logs; nothing else. Then, in the IAM
// simulator, what it may invoke and publish to.
func TestFleetStateMachineRole(t *testing.T) {
	s := synth(t)
	a := fleetDefinition(t, s)
	role := props(s.AppJSON.resources("AWS::IAM::Role")[a.RoleID])
	trust := normPolicy(role["AssumeRolePolicyDocument"]).(map[string]any)["Statement"].([]any)
	if len(trust) != 1 || jsonOf(trust[0].(map[string]any)["Principal"]) != jsonOf(map[string]any{"Service": []string{"states.amazonaws.com"}}) {
		t.Errorf("state machine role trust %s, want Step Functions only", jsonOf(trust))
	}
	if role["ManagedPolicyArns"] != nil || role["Policies"] != nil {
		t.Errorf("state machine role has managed or inline policies: %s", jsonOf(role))
	}
	fn := "${" + a.FunctionID + ".Arn}"
	executions := "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:"
	machineRef := jsonOf(ref(a.MachineID))
	got := map[string][]string{}
	stmts := roleStatements(s.AppJSON, a.RoleID)
	for i, st := range stmts {
		if st["Effect"] != "Allow" || st["Condition"] != nil || st["NotAction"] != nil || st["NotResource"] != nil {
			t.Errorf("statement %d: %s", i, jsonOf(st))
		}
		for _, action := range strs(st["Action"]) {
			got[action] = append(got[action], resourcesOf(st)...)
		}
	}
	logDelivery := []string{
		"logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups", "logs:DescribeResourcePolicies",
		"logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:UpdateLogDelivery",
	}
	for action, res := range got {
		slices.Sort(res)
		switch {
		case action == "lambda:InvokeFunction":
			if want := sorted([]string{fn, fn + ":*"}); !slices.Equal(res, want) {
				t.Errorf("%s on %v, want only the fleet function %v", action, res, want)
			}
		case action == "sns:Publish":
			if want := []string{"${" + a.TopicID + "}"}; !slices.Equal(res, want) {
				t.Errorf("%s on %v, want only the approval topic %v", action, res, want)
			}
		case action == "states:StartExecution":
			// The Distributed Map's child executions, of this machine.
			if !slices.Equal(res, []string{"${" + a.MachineID + "}"}) {
				t.Errorf("%s on %v, want only the fleet state machine", action, res)
			}
		case slices.Contains([]string{"states:DescribeExecution", "states:StopExecution", "states:RedriveExecution"}, action):
			for _, r := range res {
				if !strings.HasPrefix(r, executions) || !strings.Contains(r, machineRef) {
					t.Errorf("%s on %s, want only the fleet state machine's executions", action, r)
				}
			}
		case slices.Contains(logDelivery, action):
			// Log delivery to CloudWatch Logs takes "*".
			if !slices.Equal(res, []string{"*"}) {
				t.Errorf("%s on %v", action, res)
			}
		default:
			t.Errorf("the state machine role may %s on %v", action, res)
		}
	}
	for _, action := range []string{"lambda:InvokeFunction", "sns:Publish", "states:StartExecution"} {
		if got[action] == nil {
			t.Errorf("the state machine role lacks %s", action)
		}
	}

	// Nothing else may invoke the fleet function: no resource policy, no
	// other role.
	for id, p := range s.AppJSON.resources("AWS::Lambda::Permission") {
		if strings.Contains(jsonOf(props(p)["FunctionName"]), a.FunctionID) {
			t.Errorf("Lambda permission %s on the fleet function: %s", id, jsonOf(props(p)))
		}
	}
	for id := range s.AppJSON.resources("AWS::IAM::Role") {
		if id == a.RoleID {
			continue
		}
		for _, st := range roleStatements(s.AppJSON, id) {
			if slices.ContainsFunc(strs(st["Action"]), func(x string) bool { return actionMatches(x, "lambda:InvokeFunction") }) &&
				strings.Contains(jsonOf(st["Resource"]), a.FunctionID) {
				t.Errorf("role %s may invoke the fleet function: %s", id, jsonOf(st))
			}
		}
	}

	const (
		fleetARN = "arn:aws:lambda:us-east-1:" + simAccount + ":function:Tessera-test-App-FleetFunction-AbCdEf123456"
		topicARN = "arn:aws:sns:us-east-1:" + simAccount + ":Tessera-test-App-FleetApprovalTopic-AbCdEf123456"
	)
	var all []any
	for _, st := range stmts {
		all = append(all, st)
	}
	pol := literal(t, normPolicy(map[string]any{"Version": "2012-10-17", "Statement": all}),
		placeholders(t, all, map[string]string{fn: fleetARN, "${" + a.TopicID + "}": topicARN}))
	cases := []struct {
		name, action, resource, want string
	}{
		{"invoke-fleet", "lambda:InvokeFunction", fleetARN, iamsim.Allowed},
		{"invoke-fleet-version", "lambda:InvokeFunction", fleetARN + ":1", iamsim.Allowed},
		{"invoke-api", "lambda:InvokeFunction", "arn:aws:lambda:us-east-1:" + simAccount + ":function:Tessera-test-App-ApiFunction-AbCdEf123456", iamsim.ImplicitlyDenied},
		{"invoke-provisioner", "lambda:InvokeFunction", "arn:aws:lambda:us-east-1:" + simAccount + ":function:Tessera-test-App-ProvisionerFunction-AbCdEf123456", iamsim.ImplicitlyDenied},
		{"publish-approval", "sns:Publish", topicARN, iamsim.Allowed},
		{"publish-other", "sns:Publish", "arn:aws:sns:us-east-1:" + simAccount + ":other", iamsim.ImplicitlyDenied},
		{"update-fleet", "lambda:UpdateFunctionCode", fleetARN, iamsim.ImplicitlyDenied},
		{"tenant-stack", "cloudformation:UpdateStack", "arn:aws:cloudformation:us-east-1:" + simAccount + ":stack/tessera-test-tenant-t-ab/0f3c9a1e", iamsim.ImplicitlyDenied},
	}
	var reqs []iamsim.Request
	var wants []string
	for _, c := range cases {
		reqs = append(reqs, iamsim.Request{Name: c.name, IdentityPolicies: []json.RawMessage{pol},
			Principal: "arn:aws:sts::" + simAccount + ":assumed-role/Tessera-test-FleetStateMachineRole/fleet",
			Action:    c.action, Resource: c.resource, AccountID: simAccount, Context: map[string]any{}})
		wants = append(wants, c.want)
	}
	results, err := iamsim.Run(iamsim.Script(t), reqs)
	if err != nil {
		t.Fatal(err)
	}
	iamsim.Check(t, reqs, results, wants)
}

// TestFleetFunctionRole checks every action of the fleet function's role
// against what it needs, on exactly these resources and unconditioned: its
// log group; tenant sessions (TenantDataAccessRole, tagged); the catalog's
// items and list index; the cursor key; UpdateStack and DescribeStacks on
// this stage's TenantStacks; the control-plane actions CloudFormation takes
// with its credentials on this stage's dedicated tables, never creating or
// deleting one. Then, in the IAM simulator, that it can update a tenant's
// stack and table of its stage and nothing of another stage, create or
// delete neither, and touch no tenant item with its own credentials.
func TestFleetFunctionRole(t *testing.T) {
	s := synth(t)
	roleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", fnID(functionFleet)+"FunctionRole")
	logsID := s.AppJSON.logicalID(t, "AWS::Logs::LogGroup", fnID(functionFleet)+"FunctionLogs")
	dataRoleID := s.AppJSON.logicalID(t, "AWS::IAM::Role", access.RoleName)
	catalog := "${Data:" + s.DataJSON.logicalID(t, "AWS::DynamoDB::Table", "CatalogTable") + ".Arn}"
	secret := "${Data:" + s.DataJSON.logicalID(t, "AWS::SecretsManager::Secret", "CursorKey") + "}"

	want := map[string][]string{
		"logs:CreateLogStream": {"${" + logsID + ".Arn}"}, "logs:PutLogEvents": {"${" + logsID + ".Arn}"},
		"sts:AssumeRole": {"${" + dataRoleID + ".Arn}"}, "sts:TagSession": {"${" + dataRoleID + ".Arn}"},
		"secretsmanager:GetSecretValue": {secret},
	}
	for _, a := range catalogReadWriteActions {
		want[a] = append(want[a], catalog)
	}
	want["dynamodb:Query"] = append(want["dynamodb:Query"], catalog+"/index/"+store.CatalogIndex)
	for _, a := range fleetStackActions {
		want[a] = append(want[a], tenantStacksArn)
	}
	for _, a := range fleetTableActions {
		want[a] = append(want[a], tenantTablesArn)
	}
	// The stacks' alarms (template version 2), by name; listing them has
	// no resource-level permission.
	for _, a := range access.TenantAlarmActions {
		want[a] = append(want[a], "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:tessera-test-tenant-*")
	}
	for _, a := range access.TenantAlarmReads {
		want[a] = append(want[a], "*")
	}
	got := map[string][]string{}
	stmts := roleStatements(s.AppJSON, roleID)
	for i, st := range stmts {
		if st["Effect"] == "Deny" && (st["Sid"] == "AuditEntriesAreImmutable" || st["Sid"] == "NoPartiQLWritesOnCatalog") {
			continue // the audit trail's denials (TestAuditEntriesImmutableForFunctionRoles)
		}
		if st["Effect"] != "Allow" || st["Condition"] != nil {
			t.Errorf("statement %d: %s", i, jsonOf(st))
		}
		for _, a := range strs(st["Action"]) {
			got[a] = append(got[a], resourcesOf(st)...)
		}
	}
	for a := range got {
		slices.Sort(got[a])
	}
	for a := range want {
		slices.Sort(want[a])
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fleet role actions\n got  %s\n want %s", jsonOf(got), jsonOf(want))
	}
	for _, a := range []string{"dynamodb:CreateTable", "dynamodb:DeleteTable"} {
		if slices.Contains(fleetTableActions, a) {
			t.Errorf("fleetTableActions holds %s", a)
		}
	}

	const (
		tenantStack  = "arn:aws:cloudformation:us-east-1:" + simAccount + ":stack/tessera-test-tenant-t-ab/0f3c9a1e-5b7d-4e2a-9c8b-1d2e3f4a5b6c"
		otherStack   = "arn:aws:cloudformation:us-east-1:" + simAccount + ":stack/tessera-prod-tenant-t-ab/0f3c9a1e-5b7d-4e2a-9c8b-1d2e3f4a5b6c"
		appStack     = "arn:aws:cloudformation:us-east-1:" + simAccount + ":stack/Tessera-test-App/0f3c9a1e-5b7d-4e2a-9c8b-1d2e3f4a5b6c"
		tenantTable  = "arn:aws:dynamodb:us-east-1:" + simAccount + ":table/tessera-test-tenant-t-ab"
		otherTable   = "arn:aws:dynamodb:us-east-1:" + simAccount + ":table/tessera-prod-tenant-t-ab"
		pooledTable  = "arn:aws:dynamodb:us-east-1:" + simAccount + ":table/Tessera-test-Data-PooledTable"
		dataRoleARN  = "arn:aws:iam::" + simAccount + ":role/" + access.RoleName + "-" + testStage
		tenantKeyARN = "arn:aws:kms:us-east-1:" + simAccount + ":key/00000000-0000-0000-0000-000000000000"
	)
	var all []any
	for _, st := range stmts {
		all = append(all, st)
	}
	pol := literal(t, normPolicy(map[string]any{"Version": "2012-10-17", "Statement": all}),
		placeholders(t, all, map[string]string{"${" + dataRoleID + ".Arn}": dataRoleARN}))
	cases := []struct {
		name, action, resource string
		keys                   []string
		want                   string
	}{
		{"update-tenant-stack", "cloudformation:UpdateStack", tenantStack, nil, iamsim.Allowed},
		{"describe-tenant-stack", "cloudformation:DescribeStacks", tenantStack, nil, iamsim.Allowed},
		{"update-other-stage-stack", "cloudformation:UpdateStack", otherStack, nil, iamsim.ImplicitlyDenied},
		{"update-app-stack", "cloudformation:UpdateStack", appStack, nil, iamsim.ImplicitlyDenied},
		{"create-tenant-stack", "cloudformation:CreateStack", tenantStack, nil, iamsim.ImplicitlyDenied},
		{"delete-tenant-stack", "cloudformation:DeleteStack", tenantStack, nil, iamsim.ImplicitlyDenied},
		{"update-tenant-table", "dynamodb:UpdateTable", tenantTable, nil, iamsim.Allowed},
		{"update-other-stage-table", "dynamodb:UpdateTable", otherTable, nil, iamsim.ImplicitlyDenied},
		{"update-pooled-table", "dynamodb:UpdateTable", pooledTable, nil, iamsim.ImplicitlyDenied},
		{"delete-tenant-table", "dynamodb:DeleteTable", tenantTable, nil, iamsim.ImplicitlyDenied},
		{"create-tenant-table", "dynamodb:CreateTable", tenantTable, nil, iamsim.ImplicitlyDenied},
		{"dedicated-item", "dynamodb:GetItem", tenantTable, []string{"t-ab#PRODUCT"}, iamsim.ImplicitlyDenied},
		{"dedicated-write", "dynamodb:UpdateItem", tenantTable, []string{"t-ab#PRODUCT"}, iamsim.ImplicitlyDenied},
		{"dedicated-scan", "dynamodb:Scan", tenantTable, nil, iamsim.ImplicitlyDenied},
		{"pooled-query", "dynamodb:Query", pooledTable, []string{"t-ab#PRODUCT"}, iamsim.ImplicitlyDenied},
		{"pooled-write", "dynamodb:PutItem", pooledTable, []string{"t-ab#PRODUCT"}, iamsim.ImplicitlyDenied},
		{"tenant-key", "kms:Decrypt", tenantKeyARN, nil, iamsim.ImplicitlyDenied},
		{"tenant-session", "sts:AssumeRole", dataRoleARN, nil, iamsim.Allowed},
		{"tenant-record", "dynamodb:UpdateItem", simCatalog, []string{"TENANT#t-ab"}, iamsim.Allowed},
	}
	var reqs []iamsim.Request
	var wants []string
	for _, c := range cases {
		ctx := map[string]any{}
		if c.keys != nil {
			ctx["dynamodb:LeadingKeys"] = c.keys
		}
		reqs = append(reqs, iamsim.Request{Name: c.name, IdentityPolicies: []json.RawMessage{pol},
			Principal: "arn:aws:sts::" + simAccount + ":assumed-role/Tessera-test-FleetFunctionRole/fleet",
			Action:    c.action, Resource: c.resource, AccountID: simAccount, Context: ctx})
		wants = append(wants, c.want)
	}
	results, err := iamsim.Run(iamsim.Script(t), reqs)
	if err != nil {
		t.Fatal(err)
	}
	iamsim.Check(t, reqs, results, wants)
}

// TestFleetApprovalTopicAndLogs checks the approval topic (TLS only,
// encrypted), the state machine's logging (every event, without execution
// data, which holds the approvals' task tokens, to a log group with a
// retention) and the stack's outputs.
func TestFleetApprovalTopicAndLogs(t *testing.T) {
	s := synth(t)
	a := fleetDefinition(t, s)
	topic := props(s.AppJSON.resources("AWS::SNS::Topic")[a.TopicID])
	if k := flatten(topic["KmsMasterKeyId"]); !strings.HasSuffix(k, ":alias/aws/sns") {
		t.Errorf("approval topic KmsMasterKeyId = %s, want the account's SNS key", k)
	}
	var tlsOnly bool
	for _, p := range s.AppJSON.resources("AWS::SNS::TopicPolicy") {
		if !strings.Contains(jsonOf(props(p)["Topics"]), a.TopicID) {
			continue
		}
		for _, st := range list(props(p)["PolicyDocument"].(map[string]any)["Statement"]) {
			m := st.(map[string]any)
			if m["Effect"] == "Deny" && jsonOf(m["Condition"]) == `{"Bool":{"aws:SecureTransport":"false"}}` {
				tlsOnly = true
			}
			if m["Effect"] == "Allow" {
				t.Errorf("approval topic policy allows %s", jsonOf(m))
			}
		}
	}
	if !tlsOnly {
		t.Error("approval topic accepts publishing without TLS")
	}

	sm := props(s.AppJSON.resources("AWS::StepFunctions::StateMachine")[a.MachineID])
	lc, _ := sm["LoggingConfiguration"].(map[string]any)
	if lc["Level"] != "ALL" || lc["IncludeExecutionData"] != false {
		t.Errorf("state machine logging %s, want ALL without execution data", jsonOf(lc))
	}
	logsID := s.AppJSON.logicalID(t, "AWS::Logs::LogGroup", "FleetStateMachineLogs")
	if dest := jsonOf(lc["Destinations"]); !strings.Contains(dest, logsID) {
		t.Errorf("state machine logs to %s, want %s", dest, logsID)
	}
	if r := props(s.AppJSON.resources("AWS::Logs::LogGroup")[logsID])["RetentionInDays"]; r == nil {
		t.Errorf("state machine log group has no retention")
	}

	outs, _ := s.AppJSON["Outputs"].(map[string]any)
	for name, want := range map[string]string{
		"FleetStateMachineArn":  "${" + a.MachineID + "}",
		"FleetApprovalTopicArn": "${" + a.TopicID + "}",
	} {
		o, _ := outs[name].(map[string]any)
		if got := flatten(o["Value"]); got != want {
			t.Errorf("output %s = %s, want %s", name, got, want)
		}
	}
}

// TestFleetName checks the state machine's name per stage and cell: two
// cells of a stage may share an account and Region.
func TestFleetName(t *testing.T) {
	for _, c := range []struct {
		cfg  config
		want string
	}{
		{config{Stage: "dev"}, "tessera-dev-fleet"},
		{config{Stage: "prod", Cell: &cellDeployment{ID: "c1"}}, "tessera-prod-c1-fleet"},
		{config{Stage: "prod", Cell: &cellDeployment{ID: "c2"}}, "tessera-prod-c2-fleet"},
	} {
		if got := fleetName(c.cfg); got != c.want {
			t.Errorf("fleetName(%+v) = %q, want %q", c.cfg, got, c.want)
		}
	}
}
