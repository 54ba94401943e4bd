import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Backoff } from './backoff.js';

describe('restart backoff', () => {
  it('doubles from the initial delay up to the cap, and resets after a healthy run', () => {
    const b = new Backoff({ initialMs: 200, maxMs: 3000, resetAfterMs: 10_000 });
    expect([0, 0, 0, 0, 0, 0].map(() => b.next(50))).toEqual([200, 400, 800, 1600, 3000, 3000]);
    expect(b.consecutiveFailures).toBe(6);
    expect(b.next(10_000)).toBe(200);
    expect(b.next(10)).toBe(400);
  });

  it('never goes below the initial delay nor above the cap, however long the crash loop', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 100_000 }), { maxLength: 200 }), (runs) => {
        const b = new Backoff({ initialMs: 100, maxMs: 5000, resetAfterMs: 30_000 });
        for (const r of runs) {
          const d = b.next(r);
          expect(d).toBeGreaterThanOrEqual(100);
          expect(d).toBeLessThanOrEqual(5000);
        }
      }),
    );
  });
});
