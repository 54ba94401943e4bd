import { describe, expect, it } from 'vitest';
import { parseLinkMtu } from './pod-config.js';

describe('parseLinkMtu', () => {
  it('reads the MTU from `ip -o link show` output', () => {
    expect(parseLinkMtu('2: eth0@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UP mode DEFAULT')).toBe(1450);
    expect(parseLinkMtu('Device "eth0" does not exist.')).toBeUndefined();
  });
});
