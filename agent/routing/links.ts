// Reading and changing kernel networking state through `ip` (via the one exec wrapper) and /proc/sys.
// The agent runs inside its node's network namespace, so with no `netns` option everything here acts
// on the node; the endpoint code passes a pod's netns path to act inside the pod. A pod's links,
// addresses and routes are made over rtnetlink instead (rtnl.ts): that is the per-pod hot path.
import { writeFileSync } from 'node:fs';
import { run } from '../../lib/exec/run.js';

export interface LinkInfo {
  ifindex: number;
  ifname: string;
  address: string;
  mtu: number;
  flags: string[];
  kind?: string;
}

export async function listLinks(netns?: string): Promise<LinkInfo[]> {
  const res = await run(['ip', '-j', '-d', 'link', 'show'], { netns, timeoutMs: 10_000 });
  const raw = JSON.parse(res.stdout || '[]') as Array<Record<string, any>>;
  return raw.map((l) => ({
    ifindex: l.ifindex,
    ifname: l.ifname,
    address: l.address,
    mtu: l.mtu,
    flags: l.flags ?? [],
    kind: l.linkinfo?.info_kind,
  }));
}

export async function getLink(ifname: string, netns?: string): Promise<LinkInfo | undefined> {
  const res = await run(['ip', '-j', 'link', 'show', 'dev', ifname], { netns, allowFailure: true, timeoutMs: 10_000 });
  if (res.code !== 0) return undefined;
  const l = (JSON.parse(res.stdout || '[]') as Array<Record<string, any>>)[0];
  return l ? { ifindex: l.ifindex, ifname: l.ifname, address: l.address, mtu: l.mtu, flags: l.flags ?? [] } : undefined;
}

/**
 * Set a sysctl of the node's network namespace. /proc/sys/net belongs to the netns of the process
 * that opens it, and the agent lives in the node's netns, so writing the file is `sysctl -w` without
 * the fork. Returns false (instead of throwing) when the key does not exist, e.g. a device that is gone.
 */
export function setSysctl(key: string, value: string | number): boolean {
  try {
    writeFileSync(`/proc/sys/${key.replace(/\./g, '/')}`, String(value));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** Random locally administered unicast MAC (the agent picks both veth MACs itself so it never has to
 *  read them back from the kernel). */
export function randomMac(): string {
  const b = new Uint8Array(6);
  crypto.getRandomValues(b);
  b[0] = (b[0]! & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** `ip -j ARGS` (in a netns when given): the parsed JSON, or undefined when the command fails (a
 *  device that does not exist). */
export async function ipJson<T>(args: string[], netns?: string): Promise<T | undefined> {
  const res = await run(['ip', '-j', ...args], { netns, allowFailure: true, timeoutMs: 10_000 });
  if (res.code !== 0) return undefined;
  return JSON.parse(res.stdout || '[]') as T;
}

/** Remove the tc filter of one preference from a device's ingress or egress hook (absent is fine). */
export async function tcFilterDel(ifname: string, hook: 'ingress' | 'egress', pref: number): Promise<void> {
  await run(['tc', 'filter', 'del', 'dev', ifname, hook, 'pref', String(pref)], { allowFailure: true, timeoutMs: 10_000 });
}
