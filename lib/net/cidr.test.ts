import { describe, expect, it } from 'vitest';
import { cidrContains, cidrsOverlap, formatCidr, parseCidr, parseIpv4, subnet } from './cidr.js';

describe('cidr', () => {
  it('parses and formats', () => {
    expect(parseIpv4('198.19.1.5')).toBe(0xc6130105);
    expect(parseIpv4('256.0.0.1')).toBeUndefined();
    expect(formatCidr(parseCidr('198.19.0.0/16')!)).toBe('198.19.0.0/16');
    expect(parseCidr('198.19.0.1/16')).toBeUndefined();
    expect(parseCidr('198.19.0.0/33')).toBeUndefined();
  });
  it('contains, overlaps and carves', () => {
    const c = parseCidr('198.19.0.0/16')!;
    expect(cidrContains(c, parseIpv4('198.19.200.1')!)).toBe(true);
    expect(cidrContains(c, parseIpv4('198.18.0.1')!)).toBe(false);
    expect(cidrsOverlap(c, parseCidr('198.19.3.0/24')!)).toBe(true);
    expect(cidrsOverlap(c, parseCidr('198.18.0.0/24')!)).toBe(false);
    expect(formatCidr(subnet(c, 24, 2))).toBe('198.19.2.0/24');
    expect(() => subnet(c, 24, 256)).toThrow(RangeError);
  });
});
