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

const confArb = fc.oneof(
  // The valid config with one field dropped or replaced by anything.
  fc.tuple(fc.constantFrom(...Object.keys(validConf), 'prevResult', 'extra'), fc.option(fc.jsonValue(), { nil: undefined })).map(([k, v]) => {
    const c: Record<string, unknown> = { ...validConf };
    if (v === undefined) delete c[k];
    else c[k] = v;
    return JSON.stringify(c);
  }),
  fc.record({ cniVersion: fc.constantFrom(...SUPPORTED_VERSIONS, '2.0.0', '', '1.0'), name: fc.string(), type: fc.constantFrom('cnilab', 'bridge'), agentSocket: fc.constantFrom('/a.sock', 'rel.sock', '') }).map((c) => JSON.stringify(c)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 40 }),
  fc.constant(JSON.stringify(validConf)),
);
const envArb = fc.record(
  {
    CNI_COMMAND: fc.oneof(fc.constantFrom('ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'), fc.string({ maxLength: 6 })),
    CNI_CONTAINERID: fc.oneof(fc.constantFrom('abc123', '', '../x', 'a'.repeat(300)), fc.string({ maxLength: 10 })),
    CNI_NETNS: fc.constantFrom('/proc/self/ns/net', '/nonexistent/netns', '', 'relative'),
    CNI_IFNAME: fc.oneof(fc.constantFrom('eth0', '', 'x'.repeat(20)), fc.string({ maxLength: 16 })),
    CNI_ARGS: fc.oneof(fc.constantFrom('K8S_POD_NAMESPACE=x;K8S_POD_NAME=a', ';;', '=', 'a=b=c'), fc.string({ maxLength: 30 })),
    CNI_PATH: fc.constant('/opt/cni/bin'),
  },
  { requiredKeys: [] },
);

describe('CNI plugin input properties', () => {
  it('any environment and config: exit 0 with JSON, or exit 1 with a spec error code and a message; never a throw', async () => {
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
        for (const r of seen) {
          expect(r.containerId).toBeTruthy();
          expect(r.ifname).toBeTruthy();
        }
      }),
      { numRuns: 500 },
    );
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
