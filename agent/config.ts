// The agent's own configuration file: everything the agent needs to know besides what the Kubernetes
// API tells it, i.e. what a DaemonSet would mount from a ConfigMap (plus NODE_NAME from the downward
// API). The embedded cluster's daemon writes one per node (/run/cnilab/<cluster>/nodes/<node>/
// agent-config.yaml) next to a kubeconfig; the agent reads nothing else of the harness.
//
//   apiVersion: cnilab.dev/v1alpha1
//   kind: AgentConfig
//   cluster: lab                     # names the BPF pins and the logs
//   nodeName: node1                  # or the NODE_NAME environment variable
//   kubeconfig: /run/cnilab/lab/kube/agent.kubeconfig    # or "in-cluster" (service account)
//   routingMode: tunnel              # tunnel (VXLAN) | native (BGP)
//   tunnelProtocol: vxlan
//   mtu: 1500                        # of the underlay device; pods get 50 bytes less with VXLAN
//   podCIDR: 198.19.1.0/24           # optional: the Node object's spec.podCIDR otherwise
//   nodeIP: 198.18.0.11              # optional: the Node object's InternalIP otherwise
//   clusterPoolIPv4CIDR: 198.19.0.0/16   # the cluster's pod range (routes accepted from BGP)
//   serviceCIDR: 198.18.128.0/20
//   underlayDevice: eth0
//   bgp: {peerAddress: 198.18.0.1, asn: 64512}   # native routing
//   stateDir: /run/cnilab/lab/nodes/node1        # IPAM, endpoint state, bird's files
//   agentSocket: /run/cnilab/lab/nodes/node1/agent.sock   # default <stateDir>/agent.sock
//   bpf: {pinDir: /sys/fs/bpf/cnilab/lab/node1, object: /opt/cnilab/bpf/build/datapath.o,
//         sockObject: /opt/cnilab/bpf/build/bpf_sock.o}   # the socket-LB (cgroup) programs
//   loadBalancer: {algorithm: random, socketLB: true}   # random | maglev; socketLB false: per packet only
//   datapath: bpf                    # bpf | fake (in-memory, for tests without the kernel datapath)
//   resyncPeriodSeconds: 300         # informers' resync (0: none)
//   hubble: {enabled: true, eventBufferCapacity: 4096, metrics: [drop, flow]}   # lib/hubble-config.ts
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InvalidInputError, InvalidInputList } from '../lib/errors.js';
import { formatIpv4, nthAddress, parseCidr, parseIpv4 } from '../lib/net/cidr.js';
import { BPF_BUILD_DIR } from '../lib/paths.js';
import { HubbleConfigError, resolveHubbleConfig, type HubbleConfig } from '../lib/hubble-config.js';
import { nodeAddressing, type NodeObject } from './k8s/resources.js';

export const VXLAN_OVERHEAD = 50;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const cidr = z.string().refine((s) => parseCidr(s) !== undefined, 'expected an IPv4 CIDR like 198.19.1.0/24');
const ipv4 = z.string().refine((s) => parseIpv4(s) !== undefined, 'expected an IPv4 address');
const absPath = z.string().refine((s) => s.startsWith('/'), 'expected an absolute path');

const schema = z
  .object({
    apiVersion: z.literal('cnilab.dev/v1alpha1'),
    kind: z.literal('AgentConfig'),
    cluster: z.string().regex(DNS1123_LABEL, 'expected a DNS-1123 label').max(32),
    nodeName: z.string().regex(DNS1123_LABEL, 'expected a DNS-1123 label').max(15, 'at most 15 characters (it names interfaces)').optional(),
    kubeconfig: z.union([z.literal('in-cluster'), absPath]),
    routingMode: z.enum(['tunnel', 'native']),
    tunnelProtocol: z.enum(['vxlan']).default('vxlan'),
    mtu: z.number().int().min(1280).max(9000).default(1500),
    podCIDR: cidr.optional(),
    nodeIP: ipv4.optional(),
    clusterPoolIPv4CIDR: cidr.optional(),
    serviceCIDR: cidr.optional(),
    underlayDevice: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'expected an interface name').default('eth0'),
    bgp: z.object({ peerAddress: ipv4, asn: z.number().int().min(1).max(4294967295).optional() }).strict().optional(),
    stateDir: absPath,
    agentSocket: absPath.optional(),
    bpf: z.object({ pinDir: absPath, object: absPath.optional(), sockObject: absPath.optional() }).strict(),
    loadBalancer: z
      .object({ algorithm: z.enum(['random', 'maglev']).default('random'), socketLB: z.boolean().default(true) })
      .strict()
      .default({ algorithm: 'random', socketLB: true }),
    datapath: z.enum(['bpf', 'fake']).default('bpf'),
    resyncPeriodSeconds: z.number().int().min(0).default(300),
    /** Flow visibility, as the cluster file's `hubble:` section (validated by lib/hubble-config.ts). */
    hubble: z.unknown().optional(),
  })
  .strict();

export type AgentConfigFile = z.input<typeof schema>;
export type AgentConfig = Omit<z.output<typeof schema>, 'hubble'> & { nodeName: string; agentSocket: string; bpf: { pinDir: string; object: string; sockObject: string }; hubble: HubbleConfig };

/** Parse and validate a config file's text; every problem names its field. Exit 2 material. */
export function parseAgentConfig(text: string, source: string, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new InvalidInputError(source, `not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) => new InvalidInputError(`${source}: ${i.path.join('.') || '(top level)'}`, i.message));
    throw problems.length === 1 ? problems[0]! : new InvalidInputList(problems);
  }
  const c = r.data;
  const nodeName = c.nodeName ?? env.NODE_NAME;
  if (!nodeName) throw new InvalidInputError(`${source}: nodeName`, 'missing (and no NODE_NAME in the environment)');
  if (!DNS1123_LABEL.test(nodeName) || nodeName.length > 15) throw new InvalidInputError(`${source}: nodeName`, `"${nodeName}" is not a DNS-1123 label of at most 15 characters`);
  if (c.routingMode === 'native' && !c.bgp) throw new InvalidInputError(`${source}: bgp`, 'native routing needs bgp.peerAddress (the route reflector)');
  let hubble: HubbleConfig;
  try {
    hubble = resolveHubbleConfig(c.hubble, 'hubble');
  } catch (e) {
    if (e instanceof HubbleConfigError) throw new InvalidInputError(`${source}: ${e.field}`, e.message.slice(e.field.length + 2));
    throw e;
  }
  return {
    ...c,
    hubble,
    nodeName,
    agentSocket: c.agentSocket ?? join(c.stateDir, 'agent.sock'),
    bpf: { pinDir: c.bpf.pinDir, object: c.bpf.object ?? join(BPF_BUILD_DIR, 'datapath.o'), sockObject: c.bpf.sockObject ?? join(BPF_BUILD_DIR, 'bpf_sock.o') },
  };
}

export function loadAgentConfig(path: string, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InvalidInputError(path, `cannot read the agent config: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseAgentConfig(text, path, env);
}

/** This node as the agent's modules see it (the names of the cluster spec's NodeSpec they were written against). */
export interface AgentNode {
  name: string;
  /** The node's address on the underlay (eth0), the tunnel endpoint other nodes send to. */
  underlayIp: string;
  podCidr: string;
  /** The router IP on cilium_host: the pods' gateway, the first address of the pod CIDR. */
  podGateway: string;
}

/** The network settings the agent's modules need (the names of the cluster spec's fields). */
export interface AgentNetwork {
  routing: 'tunnel' | 'native';
  /** Underlay MTU, and what pods get (50 bytes less with VXLAN). */
  mtu: number;
  podMtu: number;
  podSubnet?: string;
  serviceSubnet?: string;
  underlayDevice: string;
  bgp?: { peerAddress: string; asn?: number };
}

/**
 * This node's addressing: from the config file where it says, from the Node object otherwise (as
 * Cilium's Kubernetes IPAM mode takes spec.podCIDR). The config wins over the Node object.
 */
export function resolveNode(cfg: AgentConfig, node: NodeObject | undefined): AgentNode {
  const fromNode = node ? nodeAddressing(node) : undefined;
  const podCidr = cfg.podCIDR ?? fromNode?.podCidr ?? node?.spec?.podCIDR;
  const underlayIp = cfg.nodeIP ?? node?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
  if (!podCidr) throw new Error(`node ${cfg.nodeName}: no pod CIDR (podCIDR in the agent config, or spec.podCIDR of the Node object${node ? '' : ', which does not exist'})`);
  if (!underlayIp) throw new Error(`node ${cfg.nodeName}: no node IP (nodeIP in the agent config, or an InternalIP address of the Node object${node ? '' : ', which does not exist'})`);
  const c = parseCidr(podCidr);
  if (!c) throw new Error(`node ${cfg.nodeName}: pod CIDR "${podCidr}" is not an IPv4 CIDR`);
  return { name: cfg.nodeName, underlayIp, podCidr, podGateway: formatIpv4(nthAddress(c, 1)) };
}

export function networkOf(cfg: AgentConfig): AgentNetwork {
  return {
    routing: cfg.routingMode,
    mtu: cfg.mtu,
    podMtu: cfg.routingMode === 'tunnel' ? cfg.mtu - VXLAN_OVERHEAD : cfg.mtu,
    podSubnet: cfg.clusterPoolIPv4CIDR,
    serviceSubnet: cfg.serviceCIDR,
    underlayDevice: cfg.underlayDevice,
    bgp: cfg.bgp,
  };
}
