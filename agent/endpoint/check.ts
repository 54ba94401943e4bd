// CNI CHECK of one attachment: the kernel's real state (host veth, the pod's interface, addresses and
// routes, the datapath's endpoint entry) compared with the endpoint's record and with the runtime's
// prevResult. Reading the state and comparing it are separate so the comparison is unit-tested on
// every kind of drift without a kernel.
import type { CniPrevResult } from '../cni/protocol.js';
import { getLink, ipJson, type LinkInfo } from '../routing/links.js';
import type { EndpointState } from './state.js';

/** What the kernel and the datapath hold for an attachment right now. */
export interface AttachmentState {
  host?: Pick<LinkInfo, 'ifindex' | 'address' | 'mtu'>;
  pod?: { address: string; mtu: number; up: boolean; ipv4: string[] };
  /** The pod's IPv4 routes in its main table: destination ("default" as 0.0.0.0/0), gateway, device. */
  podRoutes: Array<{ dst: string; gateway?: string; dev?: string }>;
  /** The datapath's endpoint map entry for the endpoint's IP. */
  datapath?: { ifindex: number };
}

export async function readAttachmentState(st: EndpointState, netns: string, datapathEntry: { ifindex: number } | undefined): Promise<AttachmentState> {
  const host = await getLink(st.hostIfname);
  const pods = (await ipJson<Array<{ address: string; mtu: number; flags?: string[]; addr_info?: Array<{ family: string; local: string }> }>>(['addr', 'show', 'dev', st.podIfname], netns)) ?? [];
  const p = pods[0];
  const raw = (await ipJson<Array<{ dst: string; gateway?: string; dev?: string }>>(['-4', 'route', 'show', 'table', 'main'], netns)) ?? [];
  return {
    host: host && { ifindex: host.ifindex, address: host.address, mtu: host.mtu },
    pod: p && { address: p.address, mtu: p.mtu, up: (p.flags ?? []).includes('UP'), ipv4: (p.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => a.local) },
    podRoutes: raw.map((r) => ({ dst: r.dst === 'default' ? '0.0.0.0/0' : r.dst.includes('/') ? r.dst : `${r.dst}/32`, gateway: r.gateway, dev: r.dev })),
    datapath: datapathEntry,
  };
}

const sameMac = (a?: string, b?: string) => !!a && !!b && a.toLowerCase() === b.toLowerCase();

/**
 * Every way the attachment differs from what it should be; empty when CHECK passes. The record
 * (state file) says what cnilab made; prevResult says what the runtime was told — both must hold.
 */
export function attachmentProblems(st: EndpointState, prev: CniPrevResult | undefined, real: AttachmentState, gateway: string): string[] {
  const out: string[] = [];
  if (!real.host) out.push(`host veth ${st.hostIfname} is missing`);
  else {
    if (!sameMac(real.host.address, st.hostMac)) out.push(`host veth ${st.hostIfname} has MAC ${real.host.address}, expected ${st.hostMac}`);
    if (real.host.mtu !== st.mtu) out.push(`host veth ${st.hostIfname} has MTU ${real.host.mtu}, expected ${st.mtu}`);
  }
  if (!real.pod) out.push(`${st.podIfname} is missing in ${st.netns}`);
  else {
    if (!real.pod.up) out.push(`${st.podIfname} in ${st.netns} is down`);
    if (!real.pod.ipv4.includes(st.ip)) out.push(`${st.podIfname} in ${st.netns} does not have ${st.ip} (has ${real.pod.ipv4.join(', ') || 'no IPv4 address'})`);
    if (!sameMac(real.pod.address, st.podMac)) out.push(`${st.podIfname} has MAC ${real.pod.address}, expected ${st.podMac}`);
    if (real.pod.mtu !== st.mtu) out.push(`${st.podIfname} has MTU ${real.pod.mtu}, expected ${st.mtu}`);
  }
  for (const dst of st.routes ?? ['0.0.0.0/0']) {
    if (!real.podRoutes.some((r) => r.dst === dst && r.gateway === gateway && r.dev === st.podIfname)) out.push(`the pod has no route ${dst} via ${gateway} dev ${st.podIfname}`);
  }
  if (!real.datapath) out.push(`the datapath's endpoint map has no entry for ${st.ip}`);
  else if (real.host && real.datapath.ifindex !== real.host.ifindex) out.push(`the datapath's entry for ${st.ip} points at ifindex ${real.datapath.ifindex}, the host veth is ${real.host.ifindex}`);

  if (prev) {
    // prevResult is the last plugin's result of the chain: ours plus whatever came before and after.
    const ifs = prev.interfaces ?? [];
    const podIdx = ifs.findIndex((i) => i.name === st.podIfname && (i.sandbox ?? '') === st.netns);
    if (podIdx < 0) out.push(`prevResult has no interface ${st.podIfname} in ${st.netns}`);
    else {
      const mac = ifs[podIdx]!.mac;
      if (mac && real.pod && !sameMac(mac, real.pod.address)) out.push(`prevResult gives ${st.podIfname} MAC ${mac}, it has ${real.pod.address}`);
      const ips = (prev.ips ?? []).filter((i) => i.interface === podIdx);
      if (!ips.some((i) => i.address.split('/')[0] === st.ip)) out.push(`prevResult does not give ${st.podIfname} the address ${st.ip}`);
      for (const i of ips) {
        const a = i.address.split('/')[0]!;
        if (!a.includes(':') && real.pod && !real.pod.ipv4.includes(a)) out.push(`prevResult gives ${st.podIfname} ${a}, which it does not have`);
      }
    }
    const hostIf = ifs.find((i) => i.name === st.hostIfname && !i.sandbox);
    if (hostIf?.mac && real.host && !sameMac(hostIf.mac, real.host.address)) out.push(`prevResult gives ${st.hostIfname} MAC ${hostIf.mac}, it has ${real.host.address}`);
    for (const r of prev.routes ?? []) {
      if (r.dst.includes(':')) continue;
      // Routes through our gateway must be in the pod; others belong to other plugins of the chain.
      if ((r.gw === gateway || (!r.gw && (st.routes ?? ['0.0.0.0/0']).includes(r.dst))) && !real.podRoutes.some((x) => x.dst === r.dst && x.gateway === gateway)) {
        out.push(`prevResult routes ${r.dst} via ${r.gw ?? gateway}, the pod has no such route`);
      }
    }
  }
  return out;
}
