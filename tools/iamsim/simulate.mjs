// Test-only: evaluates IAM requests with @cloud-copilot/iam-simulate (AGPL,
// never shipped with or linked into the product). Used by
// internal/platform/access/policy_sim_test.go.
//
// stdin:  JSON array of requests:
//   { "name": "...",                        // echoed back
//     "identityPolicies": [<policy JSON>],  // the principal's policies
//     "resourcePolicy": <policy JSON>,      // optional (e.g. a KMS key policy)
//     "principal": "arn:aws:sts::...",      // the calling session
//     "action": "dynamodb:Query",
//     "resource": "arn:aws:dynamodb:...",
//     "accountId": "123456789012",          // account owning the resource
//     "context": { "aws:PrincipalTag/tenantId": "ab",
//                  "dynamodb:LeadingKeys": ["ab#PRODUCT"], ... } }
//   Resource tags are context keys too ("aws:ResourceTag/tenantId").
// stdout: JSON array, same order:
//   { "name", "decision": "Allowed"|"ImplicitlyDenied"|"ExplicitlyDenied"|"",
//     "error": "...",
//     "ignoredContextKeys": [...],  // dropped by the simulator: the caller should fail
//     "templateKeys": [...],        // see below
//     "allowedBy": [...], "deniedBy": [...] }  // matching statements, "<policy>/<Sid>"
//
// Known gap of iam-simulate 0.1.173: context keys whose variable part follows
// a ':' (kms:EncryptionContext:<key>) are dropped by its request validation,
// which only expands "<prefix>/<variable>" keys. Such a key, when the action
// documents the matching template (kms:EncryptionContext:${EncryptionContextKey}),
// is listed in templateKeys and the request is evaluated again by the same
// core engine (internal modules of the pinned version) with the key included.
import { runSimulation, allowedContextKeysForRequest } from '@cloud-copilot/iam-simulate'
import { loadPolicy } from '@cloud-copilot/iam-policy'

const internal = (p) => import(new URL(`./node_modules/@cloud-copilot/iam-simulate/dist/esm/${p}`, import.meta.url))
const { authorize } = await internal('core_engine/CoreSimulatorEngine.js')
const { AwsRequestImpl } = await internal('request/request.js')
const { RequestContextImpl } = await internal('requestContext.js')
const { DiscoveryContextKeyConstraints } = await internal('context_keys/discoveryContextKeyConstraints.js')
const { normalizeSimulationParameters } = await internal('simulation_engine/simulationEngine.js')

// label names a matching statement by its policy and Sid (or position).
const label = (s) => `${s.policyId ?? 'resource'}/${s.statement?.Sid ?? s.explain?.identifier}`

// templateMatches tells whether key fits a documented "<prefix>:${Var}" key.
function templateMatches(key, allowedKeys) {
  const k = key.toLowerCase()
  return allowedKeys.some((t) => {
    const i = t.indexOf(':${')
    return i > 0 && t.endsWith('}') && k.startsWith(t.slice(0, i + 1)) && k.length > i + 1 && !k.slice(i + 1).includes(':')
  })
}

// evaluateWithTemplateKeys runs the core engine as runSimulation does, with
// the validated context plus the template keys.
async function evaluateWithTemplateKeys(sim, templateKeys) {
  const { validContextValues } = await normalizeSimulationParameters(sim, undefined)
  for (const k of templateKeys) validContextValues[k] = sim.request.contextVariables[k]
  return authorize({
    request: new AwsRequestImpl(sim.request.principal, sim.request.resource, sim.request.action,
      new RequestContextImpl(validContextValues), false),
    sessionPolicy: undefined,
    identityPolicies: sim.identityPolicies.map((p) => loadPolicy(p.policy, { name: p.name })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: sim.resourcePolicy ? loadPolicy(sim.resourcePolicy, { name: 'resource' }) : undefined,
    permissionBoundaries: undefined,
    vpcEndpointPolicies: undefined,
    simulationParameters: { simulationMode: 'Strict', discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([]) },
    serviceSettings: { s3: {} }
  })
}

function statements(out, analysis) {
  for (const a of [analysis?.identityAnalysis, analysis?.resourceAnalysis]) {
    out.allowedBy.push(...(a?.allowStatements ?? []).map(label))
    out.deniedBy.push(...(a?.denyStatements ?? []).map(label))
  }
}

async function evaluate(req) {
  const out = { name: req.name ?? '', decision: '', error: '', ignoredContextKeys: [], templateKeys: [], allowedBy: [], deniedBy: [] }
  try {
    const sim = {
      request: {
        principal: req.principal,
        action: req.action,
        resource: { resource: req.resource, accountId: req.accountId },
        contextVariables: req.context ?? {}
      },
      identityPolicies: (req.identityPolicies ?? []).map((policy, i) => ({ name: `identity-${i}`, policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: req.resourcePolicy ?? undefined
    }
    const res = await runSimulation(sim, { simulationMode: 'Strict' })
    if (res.resultType === 'error') {
      out.error = JSON.stringify(res.errors)
      return out
    }
    if (res.resultType !== 'single') {
      out.error = `resource ${req.resource} is a pattern; give one concrete ARN`
      return out
    }
    const [service, action] = req.action.split(':')
    const allowedKeys = await allowedContextKeysForRequest(service, action, req.resource, false)
    for (const k of res.result.ignoredContextKeys ?? []) {
      ;(templateMatches(k, allowedKeys) ? out.templateKeys : out.ignoredContextKeys).push(k)
    }
    const analysis = out.templateKeys.length > 0 ? await evaluateWithTemplateKeys(sim, out.templateKeys) : res.result.analysis
    out.decision = analysis.result
    statements(out, analysis)
  } catch (e) {
    out.error = String(e?.stack ?? e)
  }
  return out
}

async function readStdin() {
  const chunks = []
  for await (const c of process.stdin) chunks.push(c)
  return Buffer.concat(chunks).toString('utf8')
}

const requests = JSON.parse(await readStdin())
if (!Array.isArray(requests)) throw new Error('stdin must be a JSON array of requests')
const results = []
for (const r of requests) results.push(await evaluate(r))
process.stdout.write(JSON.stringify(results, null, 1) + '\n')
