// The five configurations a performance run compares, as cluster specs. Three are baselines that use no
// BPF at all, so a ratio against them says what our datapath costs on this very kernel and machine.
import type { CniKind, RoutingMode } from '../../harness/cluster/spec.js';
import { PERF_CONFIG_NAMES, type PerfConfigName } from '../../reports/performance-model.js';

export interface PerfConfigDef {
  /** One of PERF_CONFIG_NAMES, or an A/B side ("base", "head"). */
  name: string;
  cni: CniKind;
  routing: RoutingMode;
  /** Short, so `<prefix><short>` stays a valid cluster name. */
  short: string;
  description: string;
  /** The BPF object the agents load (CNILAB_BPF_OBJECT); default the checkout's build. */
  objectPath?: string;
}

export const PERF_CONFIGS: Record<PerfConfigName, PerfConfigDef> = {
  baseline: { name: 'baseline', cni: 'kernel', routing: 'native', short: 'base', description: 'plain veth (reference ptp plugin) + kernel host-gw routes, no BPF: the limit of this host' },
  'kernel-vxlan': { name: 'kernel-vxlan', cni: 'kernel', routing: 'tunnel', short: 'kvx', description: 'plain veth + kernel VXLAN device between nodes, no BPF' },
  'reference-bridge': { name: 'reference-bridge', cni: 'reference-bridge', routing: 'native', short: 'brg', description: 'reference CNI bridge + host-local IPAM, host-gw routes' },
  'cnilab-tunnel': { name: 'cnilab-tunnel', cni: 'cnilab', routing: 'tunnel', short: 'tun', description: 'cnilab eBPF datapath over VXLAN (UDP 8472)' },
  'cnilab-native': { name: 'cnilab-native', cni: 'cnilab', routing: 'native', short: 'nat', description: 'cnilab eBPF datapath, native routing (BGP + FIB lookups)' },
};

export function isPerfConfigName(s: string): s is PerfConfigName {
  return (PERF_CONFIG_NAMES as readonly string[]).includes(s);
}
