import { describe, expect, it } from 'vitest';
import { pool } from './pool.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pool', () => {
  it('keeps the order of the items whatever order they finish in, and never has more than the limit in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await pool([5, 1, 4, 2, 3, 0], 3, async (x) => {
      most = Math.max(most, ++inFlight);
      await tick(x * 3);
      inFlight--;
      return x * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30, 0]);
    expect(most).toBe(3);
  });

  it('runs one at a time with a limit below one, and handles an empty list', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await pool(['a', 'b', 'c'], 0, async (x) => {
      most = Math.max(most, ++inFlight);
      await tick(1);
      inFlight--;
      return x.toUpperCase();
    });
    expect(out).toEqual(['A', 'B', 'C']);
    expect(most).toBe(1);
    expect(await pool([], 4, async () => 1)).toEqual([]);
  });

  it('rejects when a call rejects', async () => {
    await expect(pool([1, 2, 3], 2, async (x) => (x === 2 ? Promise.reject(new Error('boom')) : x))).rejects.toThrow('boom');
  });
});
