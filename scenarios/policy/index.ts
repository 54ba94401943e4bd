// The policy suite (`cnilab run --suite policy`): every case is a scenario whose steps are checks with
// reachability tables. Sets: upstream (25 netpol e2e-like cases), cni-bugs, generated (Cyclonus-like),
// cilium (cilium connectivity test-like), plus the user's cases from --cases files. The suite opens
// one session per cluster (external hosts, servers, flow watch, prober) and resets the cluster after
// every case (no policy left, labels restored).
import type { CheckOutcome, Scenario, ScenarioContext, Suite } from '../framework/model.js';
import { InvalidInputError, InvalidInputList } from '../../harness/errors.js';
import { CILIUM_CASES } from './cases/cilium.js';
import { CNI_BUG_CASES } from './cases/cni-bugs.js';
import { generatedCases } from './cases/generated.js';
import { UPSTREAM_CASES } from './cases/upstream.js';
import { caseProblems, loadCasesFile } from './cases/user.js';
import type { PolicyCase } from './cases/types.js';
import { resetCluster, resolvedCase, runCaseStep, type CaseChanges } from './run/execute.js';
import { openPolicySession, type PolicyRunOptions, type PolicySession } from './run/session.js';
import { policyWorkload } from './workload.js';
import { providerOf } from '../framework/provider-access.js';

export const CASE_SETS = {
  upstream: () => UPSTREAM_CASES,
  'cni-bugs': () => CNI_BUG_CASES,
  generated: generatedCases,
  cilium: () => CILIUM_CASES,
} as const;
export type CaseSet = keyof typeof CASE_SETS;

export interface PolicySuiteOptions extends PolicyRunOptions {
  /** Built-in sets to run (default: all). */
  sets?: CaseSet[];
  /** Extra cases (parsed from --cases files). */
  cases?: PolicyCase[];
  /** Only these case names (after sets and extra cases are put together). */
  only?: string[];
}

const SESSION = 'policySession';

function sessionOf(ctx: ScenarioContext): PolicySession {
  const s = ctx.state[SESSION] as PolicySession | undefined;
  if (!s) throw new Error('the policy suite session is not open (run the case through its suite)');
  return s;
}

function caseScenario(c: PolicyCase): Scenario {
  const changes: CaseChanges = { pods: new Set(), namespaces: new Set() };
  return {
    name: c.name,
    suite: 'policy',
    ...(c.description ? { description: c.description } : {}),
    topology: { nodes: 2 },
    setup: (spec) => policyWorkload(spec),
    // Whatever happens in the case, the next one starts from no policy and the original labels.
    prepare: async (ctx) => async () => void (await resetCluster(sessionOf(ctx), changes)),
    steps: (ctx) => {
      const session = sessionOf(ctx);
      if (session.hostsUnavailable && JSON.stringify(c).includes('${external:')) {
        // Its policies name the hosts outside the cluster, which this provider does not have.
        return c.steps.map((_, i) => ({
          kind: 'check' as const,
          id: `step-${i + 1}`,
          name: c.name,
          run: async (): Promise<CheckOutcome> => ({ passed: false, verdict: 'unavailable', expected: 'the hosts outside the cluster its policies name', observed: `unavailable: ${session.hostsUnavailable}`, tags: { case: c.name, source: c.source } }),
        }));
      }
      const resolved = resolvedCase(c, ctx, session);
      return resolved.steps.map((_, i) => ({
        kind: 'check' as const,
        id: `step-${i + 1}`,
        name: c.name,
        run: (): Promise<CheckOutcome | CheckOutcome[]> => runCaseStep(session, ctx, resolved, i, changes),
      }));
    },
  };
}

/** The cases of the chosen sets plus the extra ones, names unique. */
export function selectCases(opts: Pick<PolicySuiteOptions, 'sets' | 'cases' | 'only'> = {}): PolicyCase[] {
  const sets = opts.sets ?? (Object.keys(CASE_SETS) as CaseSet[]);
  let cases = [...sets.flatMap((s) => CASE_SETS[s]()), ...(opts.cases ?? [])];
  const names = new Set<string>();
  for (const c of cases) {
    if (names.has(c.name)) throw new InvalidInputError('--cases', `case "${c.name}" is defined twice (a user case may not reuse a built-in name)`);
    names.add(c.name);
  }
  if (opts.only?.length) {
    const unknown = opts.only.filter((n) => !names.has(n));
    if (unknown.length) throw new InvalidInputError('--case', `no case named ${unknown.join(', ')}`);
    cases = cases.filter((c) => opts.only!.includes(c.name));
  }
  return cases;
}

export function buildPolicySuite(opts: PolicySuiteOptions = {}): Suite {
  const cases = selectCases(opts);
  return {
    name: 'policy',
    scenarios: cases.map(caseScenario),
    prepare: async (ctx) => {
      const session = await openPolicySession(ctx.spec, providerOf(ctx), opts);
      ctx.state[SESSION] = session;
      // A policy left by an earlier run on a kept cluster would skew every expectation but the first.
      await resetCluster(session, { pods: new Set(), namespaces: new Set() });
      return async () => {
        try {
          await resetCluster(session, { pods: new Set(), namespaces: new Set() });
        } finally {
          await session.close();
        }
      };
    },
  };
}

/** For `cnilab run`: the suite with the user's case files and chosen sets. Bad files are exit 2. */
export function policySuiteFromFlags(casesFiles: string[] = [], sets?: string[]): Suite {
  const known = Object.keys(CASE_SETS);
  for (const s of sets ?? []) if (!known.includes(s)) throw new InvalidInputError('--policy-set', `unknown set "${s}"; known: ${known.join(', ')}`);
  const cases = casesFiles.flatMap(loadCasesFile);
  return buildPolicySuite({ sets: sets as CaseSet[] | undefined, cases });
}

/** Every built-in case is valid by the same rules user cases obey (checked by a unit test). */
export function builtInCaseProblems(): string[] {
  const all = Object.entries(CASE_SETS).flatMap(([set, get]) => get().map((c) => ({ c, where: `${set}: ${c.name}` })));
  const problems = all.flatMap(({ c, where }) => caseProblems(c, where));
  return problems.length ? new InvalidInputList(problems).message.split('\n') : [];
}

export const policySuite: Suite = buildPolicySuite();
