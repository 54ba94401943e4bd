// Property tests of the CNI plugin's input: whatever environment and network configuration a runtime
// (or anyone) hands it, runPlugin answers, with exit 0 and a result, or exit 1 and a CNI error whose
// code is one of the spec's and whose message says what is wrong. It never throws, and the agent only
// ever sees requests whose required fields are present.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CNI_ERR, SUPPORTED_VERSIONS, type CniRequest } from './protocol.js';
import { parseCniArgs, runPlugin, type AgentCall } from './main.js';

const CODES = new Set<number>(Object.values(CNI_ERR));
const validConf = { cniVersion: '1.0.0', name: 'cnilab', type: 'cnilab', agentSocket: '/run/cnilab/x/nodes/n/agent.sock', mtu: 1450 };

/** Mostly a valid choice, sometimes anything: both outcomes get exercised. */
const mostly = <T>(valid: fc.Arbitrary<T>, noise: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: noise });
const confArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(JSON.stringify(validConf)) },
  // The valid config with one field dropped or replaced by anything.
  {
    weight: 3,
    arbitrary: fc.tuple(fc.constantFrom(...Object.keys(validConf), 'prevResult', 'extra'), fc.option(fc.jsonValue(), { nil: undefined })).map(([k, v]) => {
      const c: Record<string, unknown> = { ...validConf };
      if (v === undefined) delete c[k];
      else c[k] = v;
      return JSON.stringify(c);
    }),
  },
  { weight: 1, arbitrary: fc.record({ cniVersion: fc.constantFrom(...SUPPORTED_VERSIONS, '2.0.0', '', '1.0'), name: fc.string(), type: fc.constantFrom('cnilab', 'bridge'), agentSocket: fc.constantFrom('/a.sock', 'rel.sock', '') }).map((c) => JSON.stringify(c)) },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);
const envArb = fc.record(
  {
    CNI_COMMAND: mostly(fc.constantFrom('ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'), fc.string({ maxLength: 6 })),
    CNI_CONTAINERID: mostly(fc.constant('abc123'), fc.oneof(fc.constantFrom('', '../x', 'a'.repeat(300)), fc.string({ maxLength: 10 }))),
    CNI_NETNS: mostly(fc.constant('/proc/self/ns/net'), fc.constantFrom('/nonexistent/netns', '', 'relative')),
    CNI_IFNAME: mostly(fc.constant('eth0'), fc.oneof(fc.constantFrom('', 'x'.repeat(20)), fc.string({ maxLength: 16 }))),
    CNI_ARGS: mostly(fc.constant('K8S_POD_NAMESPACE=x;K8S_POD_NAME=a'), fc.oneof(fc.constantFrom(';;', '=', 'a=b=c'), fc.string({ maxLength: 30 }))),
    CNI_PATH: fc.constant('/opt/cni/bin'),
  },
  { requiredKeys: ['CNI_COMMAND'] },
);

describe('CNI plugin input properties', () => {
  it('any environment and config: exit 0 with JSON, or exit 1 with a spec error code and a message; never a throw', async () => {
    let reachedAgent = 0;
    await fc.assert(
      fc.asyncProperty(envArb, confArb, fc.constantFrom('ok', 'refuses', 'garbage'), async (env, stdin, agentMood) => {
        const seen: CniRequest[] = [];
        const agent: AgentCall = async <T>(_s: string, path: string, body: unknown) => {
          if (body) seen.push(body as CniRequest);
          if (agentMood === 'refuses') throw Object.assign(new Error('agent down'), { code: 'ECONNREFUSED' });
          if (agentMood === 'garbage') return (path === '/v1/healthz' ? { ok: 'maybe' } : null) as T;
          if (path === '/v1/healthz') return { ok: true } as T;
          return { cniVersion: '1.0.0', interfaces: [], ips: [], routes: [], dns: {} } as T;
        };
        const out = await runPlugin(env, stdin, agent);
        expect([0, 1]).toContain(out.code);
        if (out.code === 1) {
          const e = JSON.parse(out.stdout);
          expect(CODES.has(e.code), out.stdout).toBe(true);
          expect(typeof e.msg === 'string' && e.msg.length > 0).toBe(true);
          expect(typeof e.cniVersion).toBe('string');
        } else if (out.stdout) {
          JSON.parse(out.stdout);
        }
        if (seen.length) reachedAgent++;
        for (const r of seen) {
          expect(r.containerId).toBeTruthy();
          expect(r.ifname).toBeTruthy();
        }
      }),
      { numRuns: 500 },
    );
    expect(reachedAgent).toBeGreaterThan(10); // valid invocations are generated too
  });

  it('CNI_ARGS parsing: every pair with a key round-trips, nothing else appears', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/), fc.stringMatching(/^[^;]{0,10}$/)), { maxLength: 5 }), (pairs) => {
        const parsed = parseCniArgs(pairs.map(([k, v]) => `${k}=${v}`).join(';'));
        expect(parsed).toEqual(Object.fromEntries(pairs));
      }),
    );
  });
});
