// Hosts outside the cluster, for tests of "world" (Cilium's to-entities world, to-cidr): each is a
// network namespace with eth0 on the fabric's underlay bridge and an underlay address no node uses
// (taken from the top of the underlay subnet, so it is never in the pod CIDR), routing every node's
// pod CIDR to that node the way a datacenter router would. Nothing of it lives in the host namespace;
// its namespace name starts with the cluster's prefix, so `cnilab down` and `down --all` sweep it too.
import type { ClusterSpec } from '../../cluster/spec.js';
import { netnsNames, validateLabel } from '../../cluster/names.js';
import { formatIpv4, nthAddress, parseCidr, cidrSize } from '../../cluster/cidr.js';
import { InvalidInputError } from '../../errors.js';
import { run } from '../../exec/run.js';
import { UNDERLAY_BRIDGE, deleteNetns, prefixLen } from './network.js';

/** Names become "ext.NAME" interfaces on the fabric bridge (15 bytes at most). */
export const EXTERNAL_NAME_MAX = 11;

export interface ExternalHost {
  name: string;
  netns: string;
  ip: string;
}

/** The n-th external address: counting down from the last usable address of the underlay subnet. */
export function externalAddress(spec: Pick<ClusterSpec, 'underlaySubnet' | 'underlayGateway' | 'nodes'>, n: number): string {
  const underlay = parseCidr(spec.underlaySubnet);
  if (!underlay) throw new InvalidInputError('networking.underlaySubnet', `not a CIDR: ${spec.underlaySubnet}`);
  const ip = formatIpv4(nthAddress(underlay, cidrSize(underlay) - 2 - n));
  const taken = new Set([spec.underlayGateway, ...spec.nodes.map((node) => node.underlayIp)]);
  if (taken.has(ip) || n < 0 || cidrSize(underlay) - 2 - n <= 1) {
    throw new InvalidInputError('networking.underlaySubnet', `${spec.underlaySubnet} has no free address for external host ${n + 1}`);
  }
  return ip;
}

export function externalNetns(cluster: string, name: string): string {
  return `${netnsNames.clusterPrefix(cluster)}ext.${name}`;
}

/** Create an external host attached to the fabric; on failure nothing of it stays. */
export async function createExternalHost(spec: ClusterSpec, name: string, ip: string): Promise<ExternalHost> {
  validateLabel('external host name', name, EXTERNAL_NAME_MAX);
  const netns = externalNetns(spec.name, name);
  const fabric = netnsNames.fabric(spec.name);
  const link = `ext.${name}`;
  const plen = prefixLen(spec.underlaySubnet);
  try {
    await run(['ip', 'netns', 'add', netns], { timeoutMs: 10_000 });
    await run(['ip', '-n', fabric, '-batch', '-'], {
      input: [`link add ${link} mtu ${spec.mtu} type veth peer name eth0 netns ${netns}`, `link set ${link} master ${UNDERLAY_BRIDGE} up`].join('\n') + '\n',
      timeoutMs: 10_000,
    });
    await run(['ip', '-n', netns, '-batch', '-'], {
      input: ['link set lo up', `addr add ${ip}/${plen} dev eth0`, 'link set eth0 up', ...spec.nodes.map((n) => `route add ${n.podCidr} via ${n.underlayIp} dev eth0`)].join('\n') + '\n',
      timeoutMs: 10_000,
    });
  } catch (e) {
    await deleteExternalHost(spec, name);
    throw e;
  }
  return { name, netns, ip };
}

/** Remove an external host (its veth goes with its namespace). Idempotent. */
export async function deleteExternalHost(spec: Pick<ClusterSpec, 'name'>, name: string): Promise<void> {
  await deleteNetns(externalNetns(spec.name, name));
}
