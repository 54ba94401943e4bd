// The CNI network configuration each node's runtime uses, per the cluster's `cni` setting.
import type { CniConfList } from '../common/cni-runtime.js';
import type { ClusterSpec, NodeSpec } from '../../cluster/spec.js';
import { paths } from '../../cluster/names.js';
import { CNI_BIN_DIR, REFERENCE_CNI_DIR } from '../../paths.js';

export const POD_IFNAME = 'eth0';

/** The bridge the reference plugin creates in each node namespace. */
export const REFERENCE_BRIDGE = 'cni0';

/** host-local IPAM over the node's pod CIDR, its state kept per cluster and node so two clusters
 *  (or nodes) never share allocations. */
function hostLocalIpam(spec: ClusterSpec, node: NodeSpec): Record<string, unknown> {
  return {
    type: 'host-local',
    ranges: [[{ subnet: node.podCidr, gateway: node.podGateway }]],
    routes: [{ dst: '0.0.0.0/0' }],
    dataDir: `${paths.nodeDir(spec.name, node.name)}/host-local`,
  };
}

export function cniConfigFor(spec: ClusterSpec, node: NodeSpec): CniConfList {
  if (spec.cni === 'reference-bridge') {
    return {
      cniVersion: '1.0.0',
      name: `cnilab-${spec.name}`,
      plugins: [
        {
          type: 'bridge',
          bridge: REFERENCE_BRIDGE,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          mtu: spec.podMtu,
          ipam: hostLocalIpam(spec, node),
        },
      ],
    };
  }
  if (spec.cni === 'kernel') {
    // ptp: a veth pair per pod, the node side holding the gateway address, routes in the kernel.
    return {
      cniVersion: '1.0.0',
      name: `cnilab-${spec.name}`,
      plugins: [
        {
          type: 'ptp',
          ipMasq: false,
          mtu: spec.podMtu,
          ipam: hostLocalIpam(spec, node),
        },
      ],
    };
  }
  // CNI 1.1.0: the runtime may send STATUS and GC. (The reference plugins above stay at 1.0.0, the
  // newest version Debian's containernetworking-plugins 1.1 speaks.)
  return {
    cniVersion: '1.1.0',
    name: `cnilab-${spec.name}`,
    plugins: [{ type: 'cnilab', agentSocket: paths.agentSocket(spec.name, node.name), mtu: spec.podMtu }],
  };
}

export function cniPathFor(): string[] {
  return [CNI_BIN_DIR, REFERENCE_CNI_DIR];
}
