import { describe, expect, it } from 'vitest';
import type { Flow } from '../../../agent/observer/flow.js';
import { FlowWatch, type FlowSource } from './flows.js';

function flow(src: string, sport: number, dst: string, dport: number, over: Partial<Flow> = {}): Flow {
  return {
    time: '2025-01-01T00:00:00.000Z',
    verdict: 'DROPPED',
    drop_reason_desc: 'POLICY_DENIED',
    IP: { source: src, destination: dst, ipVersion: 'IPv4' },
    l4: { TCP: { source_port: sport, destination_port: dport, flags: { SYN: true } } },
    source: { identity: 300 },
    destination: { identity: 301 },
    Type: 'L3_L4',
    node_name: 'node2',
    event_type: { type: 1 },
    traffic_direction: 'INGRESS',
    is_reply: false,
    Summary: '',
    ...over,
  };
}

/** An agent's ring: `push` adds flows, `fetch` answers like GET /v1/flows?last=N. */
class FakeAgent implements FlowSource {
  ring: Flow[] = [];
  seen = 0;
  constructor(readonly node: string, readonly capacity = 8) {}
  push(...f: Flow[]) {
    for (const x of f) {
      this.ring.push(x);
      this.seen++;
      if (this.ring.length > this.capacity) this.ring.shift();
    }
  }
  async fetch(last: number) {
    return { flows: this.ring.slice(-last), seen: this.seen, capacity: this.capacity };
  }
}

const key = { protocol: 'TCP' as const, srcIp: '10.0.0.1', srcPort: 20001, dstIp: '10.0.0.2', dstPort: 80 };

describe('FlowWatch', () => {
  it('ignores flows from before it started, hands a watched connection its drop, in either direction', async () => {
    const agent = new FakeAgent('node2');
    agent.push(flow('10.0.0.1', 20001, '10.0.0.2', 80)); // old: before the watch started
    const w = new FlowWatch([agent], 1000);
    await w.start();
    w.watch(key);
    await w.pollNow();
    expect(w.flowsOf(key)).toEqual([]);
    const ac = new AbortController();
    const pending = w.nextDrop(key, ac.signal);
    agent.push(flow('10.0.0.9', 1, '10.0.0.2', 80), flow('10.0.0.2', 80, '10.0.0.1', 20001, { traffic_direction: 'EGRESS', node_name: 'node1' }));
    await w.pollNow();
    expect(await pending).toMatchObject({ node: 'node1', direction: 'EGRESS', reverse: true, dropReason: 'POLICY_DENIED', tcpFlags: ['SYN'] });
    expect(w.release(key)).toHaveLength(1);
    await w.stop();
  });

  it('counts flows overwritten before they could be read as missed, never as seen', async () => {
    const agent = new FakeAgent('node1', 4);
    const w = new FlowWatch([agent], 1000);
    await w.start();
    agent.push(...Array.from({ length: 10 }, (_, i) => flow('10.0.0.5', i, '10.0.0.6', 80)));
    await w.pollNow();
    expect(w.stats).toMatchObject({ flowsRead: 4, missed: 6 });
    await w.stop();
  });

  it('asks again for more when more happened than it asked for', async () => {
    const agent = new FakeAgent('node1', 4096);
    const w = new FlowWatch([agent], 1000);
    await w.start();
    w.watch(key);
    agent.push(flow('10.0.0.1', 20001, '10.0.0.2', 80), ...Array.from({ length: 1000 }, (_, i) => flow('10.0.0.7', i, '10.0.0.8', 80)));
    await w.pollNow();
    expect(w.stats).toMatchObject({ flowsRead: 1001, missed: 0 });
    expect(w.flowsOf(key)).toHaveLength(1);
    await w.stop();
  });

  it('an abandoned wait resolves empty', async () => {
    const w = new FlowWatch([new FakeAgent('n')], 1000);
    await w.start();
    w.watch(key);
    const ac = new AbortController();
    const p = w.nextDrop(key, ac.signal);
    ac.abort();
    expect(await p).toBeUndefined();
    await w.stop();
  });
});
