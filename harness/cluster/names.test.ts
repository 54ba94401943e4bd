import { describe, expect, it } from 'vitest';
import { netnsNames, validateClusterName, validateNodeName } from './names.js';
import { InvalidInputError } from '../errors.js';

describe('names', () => {
  it('accepts DNS-1123 labels and rejects what could escape a path', () => {
    expect(validateClusterName('lab-1')).toBe('lab-1');
    for (const bad of ['../x', 'a/b', 'A', '-a', 'a-', '', 'x'.repeat(33), 'a.b', 'a b']) {
      expect(() => validateClusterName(bad), bad).toThrow(InvalidInputError);
    }
  });
  it('keeps node names within an interface name', () => {
    expect(validateNodeName('worker-15chars1', 'n')).toBe('worker-15chars1');
    expect(() => validateNodeName('worker-16chars12', 'n')).toThrow(/interface names/);
  });
  it('derives namespace names that parse back unambiguously', () => {
    const n = netnsNames.pod('lab', 'x-a', 'b');
    expect(n).toBe('cnilab.lab.pod.x-a.b');
    expect(netnsNames.clusterOf(n)).toBe('lab');
    expect(netnsNames.pod('lab', 'x', 'a-b')).not.toBe(n);
  });
});
