// Corrupt agent state: every malformed file is a CorruptStateError naming the file (which the agent
// quarantines), never another exception that would crash the agent at each start.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CorruptStateError, listQuarantined, quarantine } from './state-files.js';
import { EndpointStateStore, parseEndpointState, type EndpointState } from './endpoint/state.js';
import { ClusterPoolIpam } from './ipam/pool.js';
import { HealthProblems } from './health.js';
import { testTempDir } from '../lib/testing/temp-dir.js';

const valid: EndpointState = {
  containerId: 'abc123', endpointId: 1, hostIfname: 'lxc0123456789ab', ifindex: 7, hostMac: '02:00:00:00:00:01', podIfname: 'eth0',
  podMac: '02:00:00:00:00:02', netns: '/run/netns/x', ip: '198.19.0.2', mtu: 1450, identity: 256, labels: ['k8s:a=b'],
  podNamespace: 'x', podName: 'a', createdAt: '2024-01-01T00:00:00Z',
};

/** Mutations of a valid record: drop, retype or replace a field. */
const mutated = fc.tuple(fc.constantFrom(...Object.keys(valid)), fc.oneof(fc.constant(undefined), fc.jsonValue())).map(([k, v]) => {
  const o: Record<string, unknown> = { ...valid };
  if (v === undefined) delete o[k];
  else o[k] = v;
  return JSON.stringify(o);
});

describe('agent state files', () => {
  it('endpoint states: a valid record parses; anything else is a CorruptStateError', () => {
    expect(parseEndpointState('f', JSON.stringify(valid))).toEqual(valid);
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), mutated), (text) => {
        try {
          const st = parseEndpointState('f', text);
          expect(typeof st.ip).toBe('string');
          expect(Number.isSafeInteger(st.ifindex)).toBe(true);
          expect(Array.isArray(st.labels)).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(CorruptStateError);
          expect((e as CorruptStateError).file).toBe('f');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the endpoint store hands corrupt files to onCorrupt and lists only valid ones', () => {
    const dir = testTempDir('epstate-');
    writeFileSync(join(dir, 'abc123.json'), JSON.stringify(valid));
    writeFileSync(join(dir, 'bad.json'), '{"containerId":');
    const corrupt: string[] = [];
    const store = new EndpointStateStore(dir, (e) => corrupt.push(e.file));
    expect(store.list().map((s) => s.containerId)).toEqual(['abc123']);
    expect(corrupt).toEqual([join(dir, 'bad.json')]);
  });

  it('IPAM: a corrupt allocation file is a CorruptStateError; quarantine moves it aside and lists it', () => {
    const dir = testTempDir('ipam-');
    const file = join(dir, 'ipam.json');
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.constantFrom('{"version":1,"podCidr":', '{"podCidr":"198.19.0.0/24","allocations":{"x":"y"}}', '{"podCidr":"198.19.0.0/24","allocations":[1]}')), (text) => {
        writeFileSync(file, text);
        try {
          new ClusterPoolIpam('198.19.0.0/24', '198.19.0.1', file);
        } catch (e) {
          expect(e).toBeInstanceOf(CorruptStateError);
        }
      }),
      { numRuns: 200 },
    );
    writeFileSync(file, 'garbage');
    const logs: string[] = [];
    const aside = quarantine(file, 'not valid JSON', (m) => logs.push(m));
    expect(readdirSync(dir)).toEqual([aside.slice(dir.length + 1)]);
    expect(logs[0]).toMatch(/ipam\.json is corrupt \(not valid JSON\); moved it to .*ipam\.json\.corrupt-\d+/);
    expect(listQuarantined(dir)).toEqual([aside]);
    expect(new ClusterPoolIpam('198.19.0.0/24', '198.19.0.1', file).list()).toEqual([]); // starts afresh
  });

  it('health problems: each source sets and clears only its own', () => {
    const h = new HealthProblems();
    h.set('routes', 'no route');
    h.set('watch', 'ended');
    h.clear('watch');
    h.clear('ipcache');
    expect(h.list()).toEqual(['routes: no route']);
    expect(h.set('routes', 'no route')).toBe(false);
    expect(h.set('routes', 'other')).toBe(true);
  });
});
