// The gap meter end to end on loopback (no root): a real sender and receiver process, a clean path has
// no gap; the pure judgement is fed outages in scenarios/framework/evidence.test.ts.
import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { run, start } from '../exec/run.js';
import { distJs } from '../paths.js';
import { longestGap, parseReceiverOutput, parseSenderOutput } from './gap-meter.js';

const freeUdpPort = () =>
  new Promise<number>((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

describe('gap meter', () => {
  it('measures no gap on a clean loopback path', async () => {
    const port = await freeUdpPort();
    const meter = distJs('harness/traffic/gap-meter');
    const recv = start([process.execPath, meter, 'recv', String(port)]);
    try {
      for (let i = 0; i < 100 && !recv.output().stderr.includes('listening'); i++) await new Promise((r) => setTimeout(r, 20));
      const send = await run([process.execPath, meter, 'send', '127.0.0.1', String(port), '400', '5'], { timeoutMs: 10_000 });
      await new Promise((r) => setTimeout(r, 100));
      await recv.stop();
      const g = longestGap(parseReceiverOutput(recv.output().stdout), parseSenderOutput(send.stdout));
      expect(g.sent).toBeGreaterThanOrEqual(80);
      expect(g.lost).toBe(0);
      expect(g.longestGapMs).toBeLessThan(50);
    } finally {
      await recv.stop();
    }
  });
  it('refuses output that is not the meter\'s', () => {
    expect(() => parseReceiverOutput('{}')).toThrow(/received/);
    expect(() => parseSenderOutput('garbage')).toThrow();
  });
});
