import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseWrk, wrkArgv } from './wrk.js';

const fixture = readFileSync(new URL('./fixtures/wrk.txt', import.meta.url), 'utf8');

describe('wrk output', () => {
  it('reads requests/s and the latency distribution in µs', () => {
    expect(parseWrk(fixture)).toEqual({ requests: 12474, requestsPerSec: 6231.41, p50: 581, p75: 676, p90: 880, p99: 1920, errors: 0, non2xx: 0 });
  });
  it('counts socket errors and non-2xx answers, and refuses output without --latency', () => {
    const bad = `${fixture}  Socket errors: connect 0, read 3, write 0, timeout 2\n  Non-2xx or 3xx responses: 7\n`;
    expect(parseWrk(bad)).toMatchObject({ errors: 5, non2xx: 7 });
    expect(() => parseWrk(fixture.replace(/Latency Distribution[\s\S]*?99%.*\n/, ''))).toThrow(/no 50% latency/);
  });
  it('builds the command', () => {
    expect(wrkArgv({ netns: 'n', url: 'http://a/', durationSec: 2 })).toEqual(['wrk', '--threads=1', '--connections=4', '--duration=2s', '--latency', 'http://a/']);
  });
});
