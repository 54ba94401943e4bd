import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterPoolIpam } from './pool.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'cnilab-ipam-'));
  dirs.push(d);
  return d;
};

describe('ClusterPoolIpam', () => {
  it('hands out .2 first, skips the router, and never the network or broadcast address', () => {
    const ipam = new ClusterPoolIpam('198.19.1.0/29', '198.19.1.1');
    const got = ['a', 'b', 'c', 'd', 'e'].map((o) => ipam.allocate(o));
    expect(got).toEqual(['198.19.1.2', '198.19.1.3', '198.19.1.4', '198.19.1.5', '198.19.1.6']);
    expect(() => ipam.allocate('f')).toThrow(/no free address/);
    expect(ipam.capacity).toBe(5);
  });

  it('gives an owner asking twice the same address', () => {
    const ipam = new ClusterPoolIpam('198.19.1.0/24', '198.19.1.1');
    expect(ipam.allocate('x')).toBe(ipam.allocate('x'));
  });

  it('does not reuse a just-released address at once (round robin)', () => {
    const ipam = new ClusterPoolIpam('198.19.1.0/24', '198.19.1.1');
    const a = ipam.allocate('a');
    ipam.release(a);
    expect(ipam.allocate('b')).not.toBe(a);
  });

  it('wraps around and finds released addresses when the end is reached', () => {
    const ipam = new ClusterPoolIpam('198.19.1.0/29', '198.19.1.1');
    for (const o of ['a', 'b', 'c', 'd', 'e']) ipam.allocate(o);
    ipam.releaseOwner('b');
    expect(ipam.allocate('f')).toBe('198.19.1.3');
  });

  it('persists allocations so a restarted agent never hands an address out twice', () => {
    const file = join(tmp(), 'ipam.json');
    const first = new ClusterPoolIpam('198.19.1.0/24', '198.19.1.1', file);
    const a = first.allocate('a');
    const b = first.allocate('b');
    const again = new ClusterPoolIpam('198.19.1.0/24', '198.19.1.1', file);
    expect(again.list()).toEqual([
      { ip: a, owner: 'a' },
      { ip: b, owner: 'b' },
    ]);
    const c = again.allocate('c');
    expect([a, b]).not.toContain(c);
  });

  it('ignores a state file written for another pod CIDR', () => {
    const file = join(tmp(), 'ipam.json');
    new ClusterPoolIpam('198.19.1.0/24', '198.19.1.1', file).allocate('a');
    expect(new ClusterPoolIpam('198.19.2.0/24', '198.19.2.1', file).list()).toEqual([]);
  });

  it('claims restored addresses and refuses conflicting claims', () => {
    const ipam = new ClusterPoolIpam('198.19.1.0/24', '198.19.1.1');
    ipam.claim('198.19.1.7', 'a');
    ipam.claim('198.19.1.7', 'a');
    expect(() => ipam.claim('198.19.1.7', 'b')).toThrow(/already allocated/);
    expect(() => ipam.claim('198.19.1.1', 'b')).toThrow(/not an allocatable/);
    expect(() => ipam.claim('198.19.2.7', 'b')).toThrow(/not an allocatable/);
  });

  it('rejects a router outside the CIDR', () => {
    expect(() => new ClusterPoolIpam('198.19.1.0/24', '198.19.2.1')).toThrow(/not inside/);
  });
});
