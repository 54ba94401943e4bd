// The node agents' inputs in the embedded cluster: one config file per node (agent/config.ts) and a
// kubeconfig, written by the cluster daemon before it starts the agents, as a DaemonSet would get a
// ConfigMap and a service account. The agents reach the Kubernetes API on the fabric (the underlay's
// gateway address, port 6443): a node's network namespace cannot reach the host's loopback, and a
// TCP address on the node network is what an agent on a real node is given too.
import { stringify } from 'yaml';
import type { AgentConfigFile } from '../../agent/config.js';
import { hubbleConfigToRaw } from '../../lib/hubble-config.js';
import { paths } from './names.js';
import type { ClusterSpec, NodeSpec } from './spec.js';

/** The port the API listens on in the fabric namespace (the API server's usual port). */
export const FABRIC_API_PORT = 6443;

export function fabricApiUrl(spec: ClusterSpec): string {
  return `https://${spec.underlayGateway}:${FABRIC_API_PORT}`;
}

export function agentConfigFor(spec: ClusterSpec, node: NodeSpec, bpfObject?: string): AgentConfigFile {
  return {
    apiVersion: 'cnilab.dev/v1alpha1',
    kind: 'AgentConfig',
    cluster: spec.name,
    nodeName: node.name,
    kubeconfig: paths.agentKubeconfig(spec.name),
    routingMode: spec.routing,
    tunnelProtocol: 'vxlan',
    mtu: spec.mtu,
    podCIDR: node.podCidr,
    nodeIP: node.underlayIp,
    clusterPoolIPv4CIDR: spec.podSubnet,
    serviceCIDR: spec.serviceSubnet,
    underlayDevice: 'eth0',
    ...(spec.routing === 'native' ? { bgp: { peerAddress: spec.underlayGateway } } : {}),
    stateDir: paths.nodeDir(spec.name, node.name),
    agentSocket: paths.agentSocket(spec.name, node.name),
    bpf: { pinDir: paths.bpfNodeDir(spec.name, node.name), ...(bpfObject ? { object: bpfObject } : {}) },
    datapath: 'bpf',
    ...(spec.loadBalancer ? { loadBalancer: spec.loadBalancer } : {}),
    ...(spec.hubble ? { hubble: hubbleConfigToRaw(spec.hubble) } : {}),
  };
}

export function agentConfigYaml(spec: ClusterSpec, node: NodeSpec): string {
  return `# The cnilab agent's configuration for node ${node.name} of cluster ${spec.name} (written by the cluster daemon).\n${stringify(agentConfigFor(spec, node))}`;
}
