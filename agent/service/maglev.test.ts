import { describe, expect, it } from 'vitest';
import { maglevTable } from './maglev.js';

const backends = (ips: string[]) => ips.map((ip, i) => ({ name: `${ip}:8080`, id: i + 1 }));

describe('Maglev lookup table', () => {
  it('fills every slot, spreads evenly, and does not depend on backend order', () => {
    const t = maglevTable(backends(['198.19.1.2', '198.19.2.2', '198.19.3.2']));
    const counts = [0, 0, 0, 0];
    for (const id of t) counts[id]!++;
    expect(counts[0]).toBe(0);
    for (const c of counts.slice(1)) expect(Math.abs(c - t.length / 3)).toBeLessThan(t.length * 0.01);
    const reordered = maglevTable(backends(['198.19.1.2', '198.19.2.2', '198.19.3.2']).reverse());
    expect(Buffer.from(reordered.buffer).equals(Buffer.from(t.buffer))).toBe(true);
  });

  it('removing one of three backends keeps at least 99% of the others\' slots', () => {
    for (let trial = 0; trial < 20; trial++) {
      const all = backends([`198.19.${trial}.2`, `198.19.${trial}.3`, `198.19.${trial}.4`]);
      const before = maglevTable(all);
      const after = maglevTable([all[0]!, all[2]!]);
      let kept = 0;
      let others = 0;
      for (let i = 0; i < before.length; i++) {
        if (before[i] === all[1]!.id) continue;
        others++;
        if (after[i] === before[i]) kept++;
      }
      expect(kept / others).toBeGreaterThanOrEqual(0.99);
      // the removed backend's slots all went to the others
      expect(after.includes(all[1]!.id)).toBe(false);
    }
  });
});
