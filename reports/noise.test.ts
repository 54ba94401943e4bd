import { describe, expect, it } from 'vitest';
import { fixtureResult } from '../scenarios/performance/fixture.js';
import { noiseByConfig, noiseLines } from './noise.js';

describe('noise floor of a performance run', () => {
  it('measures the spread of one sample per configuration and the samples a 5 % difference needs', () => {
    const n = noiseByConfig(fixtureResult());
    expect(n.map((x) => x.config)).toEqual(['baseline', 'kernel-vxlan', 'reference-bridge', 'cnilab-tunnel', 'cnilab-native']);
    for (const x of n) {
      expect(x.noise).toBeGreaterThan(0.005); // the fixture's ±2 % jitter
      expect(x.noise).toBeLessThan(0.03);
      expect(x.samplesFor5pct).toBeGreaterThanOrEqual(2);
    }
    expect(noiseLines(fixtureResult()).join('\n')).toMatch(/noise floor .*\n  baseline +±\d\.\d%   n ≥ \d+/);
  });
  it('says so when there is nothing to measure it from', () => {
    expect(noiseLines(fixtureResult({ samples: 1 }))[0]).toMatch(/not measurable/);
  });
});
