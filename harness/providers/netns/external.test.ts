import { describe, expect, it } from 'vitest';
import { resolveSpec } from '../../cluster/spec.js';
import { InvalidInputError } from '../../errors.js';
import { externalAddress, externalNetns } from './external.js';
import { netnsNames } from '../../cluster/names.js';

describe('external hosts', () => {
  it('take addresses from the top of the underlay, outside the pod CIDR, never a node\'s', () => {
    const spec = resolveSpec({}, 't', { name: 'ext', nodes: 3 });
    expect([0, 1].map((n) => externalAddress(spec, n))).toEqual(['198.18.0.254', '198.18.0.253']);
    const small = resolveSpec({ networking: { underlaySubnet: '10.9.0.0/28' } }, 't', { name: 'ext', nodes: 3 });
    expect(externalAddress(small, 0)).toBe('10.9.0.14');
    expect(() => externalAddress(small, 1)).toThrow(InvalidInputError);
  });

  it('live in a namespace with the cluster\'s prefix, so down and down --all sweep them', () => {
    const ns = externalNetns('lab', 'world-a');
    expect(ns.startsWith(netnsNames.clusterPrefix('lab'))).toBe(true);
    expect(netnsNames.clusterOf(ns)).toBe('lab');
  });
});
