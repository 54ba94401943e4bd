// Chaining after another plugin that already made the pod's interface (Cilium's "generic-veth"
// chaining): the earlier plugin (ptp, bridge, …) owns the veth pair, the addresses and the routes;
// cnilab adopts the pair — the datapath's programs on the host side, the endpoint in its maps, an
// identity, a CiliumEndpoint — and hands the earlier result on unchanged. Found from prevResult and
// confirmed in the kernel: the pod's interface must be one end of a veth whose peer is in this node.
import { CNI_ERR, CniError, type CniRequest } from '../cni/protocol.js';
import { TC_PRIORITY } from '../datapath/constants.js';
import { ipJson, tcFilterDel } from '../routing/links.js';

export interface AdoptableInterface {
  ip: string;
  hostIfname: string;
  hostIfindex: number;
  hostMac: string;
  podMac: string;
  mtu: number;
}

/**
 * The interface an earlier plugin made for this attachment, or undefined when prevResult has none
 * (cnilab then makes its own). Throws a CNI error when prevResult names it but the kernel disagrees.
 */
export async function findAdoptable(req: CniRequest): Promise<AdoptableInterface | undefined> {
  const ifs = req.prevResult?.interfaces ?? [];
  const idx = ifs.findIndex((i) => i.name === req.ifname && (i.sandbox ?? '') === req.netns);
  if (idx < 0) return undefined;
  const v4 = (req.prevResult?.ips ?? []).find((i) => i.interface === idx && !i.address.includes(':'));
  if (!v4) throw new CniError(CNI_ERR.OTHER, `prevResult gives ${req.ifname} in ${req.netns} no IPv4 address; cnilab has nothing to attach`);
  const podLink = (await ipJson<Array<{ address: string; mtu: number; link_index?: number; linkinfo?: { info_kind?: string } }>>(['-d', 'link', 'show', 'dev', req.ifname], req.netns))?.[0];
  if (!podLink) throw new CniError(CNI_ERR.OTHER, `prevResult names ${req.ifname} in ${req.netns}, which does not exist`);
  if (podLink.linkinfo?.info_kind !== 'veth' || !podLink.link_index) {
    throw new CniError(CNI_ERR.OTHER, `${req.ifname} in ${req.netns} is a ${podLink.linkinfo?.info_kind ?? 'device'} without a peer; cnilab chains only onto veth pairs`);
  }
  // The peer's ifindex is in the namespace the pair was made from: it must be this node.
  const peer = ((await ipJson<Array<{ ifindex: number; ifname: string; address: string }>>(['link', 'show'])) ?? []).find((l) => l.ifindex === podLink.link_index);
  if (!peer) throw new CniError(CNI_ERR.OTHER, `the peer of ${req.ifname} (ifindex ${podLink.link_index}) is not in this node's network namespace`);
  return { ip: v4.address.split('/')[0]!, hostIfname: peer.ifname, hostIfindex: peer.ifindex, hostMac: peer.address, podMac: podLink.address, mtu: podLink.mtu };
}

/** Take cnilab's programs off an adopted device that stays (its owner deletes it later). */
export async function detachPrograms(hostIfname: string): Promise<void> {
  for (const hook of ['ingress', 'egress'] as const) await tcFilterDel(hostIfname, hook, TC_PRIORITY);
}
