// ClusterSpec: the YAML a user writes (in the spirit of kind's cluster config) and its validation.
// Every error names the file, the field path and what was expected; nothing is created before the
// whole spec is valid.
import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { InvalidInputError, InvalidInputList } from '../errors.js';
import { cidrsOverlap, formatCidr, formatIpv4, nthAddress, parseCidr, subnet, type Cidr } from './cidr.js';
import { validateClusterName, validateNodeName, validateLabel } from './names.js';
import { HubbleConfigError, resolveHubbleConfig, type HubbleConfig } from '../../lib/hubble-config.js';

export const ROUTING_MODES = ['tunnel', 'native'] as const;
export type RoutingMode = (typeof ROUTING_MODES)[number];
/**
 * cnilab: our agent and eBPF datapath. reference-bridge: the reference bridge + host-local plugins with
 * host-gw routes. kernel: plain veth pairs (the reference ptp plugin) with kernel routing and no BPF —
 * host-gw routes in native mode, a kernel VXLAN device in tunnel mode: the benchmark baselines.
 */
/** Geneve is accepted in the file so that a kernel or build without it is reported as unsupported. */
export const TUNNEL_PROTOCOLS = ['vxlan', 'geneve'] as const;
export type TunnelProtocol = (typeof TUNNEL_PROTOCOLS)[number];
export const CNI_KINDS = ['cnilab', 'reference-bridge', 'kernel'] as const;
export type CniKind = (typeof CNI_KINDS)[number];

export const DEFAULTS = {
  name: 'cnilab',
  nodes: 3,
  underlaySubnet: '198.18.0.0/24',
  podSubnet: '198.19.0.0/16',
  serviceSubnet: '198.18.128.0/20',
  /** MTU of the underlay links; pod MTU is derived from it (minus 50 for VXLAN). */
  mtu: 1500,
  /** A /24 per node, as Cilium's cluster-pool default mask for IPv4. */
  nodeMaskSize: 24,
  cni: 'cnilab' as CniKind,
};

const labelsSchema = z.record(z.string(), z.string()).optional();

const rawSpecSchema = z
  .object({
    kind: z.literal('Cluster').optional(),
    apiVersion: z.literal('cnilab.dev/v1alpha1').optional(),
    name: z.string().optional(),
    nodes: z
      .array(
        z
          .object({
            name: z.string().optional(),
            labels: labelsSchema,
          })
          .strict(),
      )
      .min(1, 'at least one node is needed')
      .max(32, 'at most 32 nodes')
      .optional(),
    networking: z
      .object({
        routing: z.enum(ROUTING_MODES).optional(),
        tunnelProtocol: z.enum(TUNNEL_PROTOCOLS).optional(),
        cni: z.enum(CNI_KINDS).optional(),
        underlaySubnet: z.string().optional(),
        podSubnet: z.string().optional(),
        serviceSubnet: z.string().optional(),
        nodeMaskSize: z.number().int().min(16).max(28).optional(),
        mtu: z.number().int().min(1280).max(9000).optional(),
        // Cilium's kube-proxy replacement knobs: loadBalancer.algorithm and socketLB.enabled.
        loadBalancer: z.object({ algorithm: z.enum(['random', 'maglev']).optional(), socketLB: z.boolean().optional() }).strict().optional(),
      })
      .strict()
      .optional(),
    /** Flow visibility (lib/hubble-config.ts validates it, with messages naming the field). */
    hubble: z.unknown().optional(),
  })
  .strict();

export type RawClusterSpec = z.infer<typeof rawSpecSchema>;

export interface NodeSpec {
  name: string;
  index: number;
  labels: Record<string, string>;
  /** Address of the node's eth0 on the underlay. */
  underlayIp: string;
  /** The node's pod CIDR (a /24 by default) and its first address (cilium_host / bridge gateway). */
  podCidr: string;
  podGateway: string;
}

export interface ClusterSpec {
  name: string;
  routing: RoutingMode;
  /** Encapsulation in tunnel mode. */
  tunnelProtocol: TunnelProtocol;
  cni: CniKind;
  underlaySubnet: string;
  underlayGateway: string;
  podSubnet: string;
  serviceSubnet: string;
  nodeMaskSize: number;
  mtu: number;
  /** MTU pods get: the underlay's, less 50 bytes of VXLAN overhead in tunnel mode. */
  podMtu: number;
  nodes: NodeSpec[];
  /** Observer, metrics and L7 visibility of the cnilab agents (absent in state files of older clusters). */
  hubble?: HubbleConfig;
  /** Service load balancing (cnilab CNI): default backend selection, and whether connections are
   *  translated at the socket (cgroup hooks) or only per packet at tc. Absent in older state files. */
  loadBalancer?: { algorithm: 'random' | 'maglev'; socketLB: boolean };
}

/** Command-line overrides (`--nodes 3 --routing native --cni cnilab`). */
export interface SpecOverrides {
  name?: string;
  nodes?: number;
  routing?: string;
  cni?: string;
}

export const VXLAN_OVERHEAD = 50;
/** Host number of the first node on the underlay (.1 is the fabric's gateway). */
export const FIRST_NODE_HOST = 11;

function zodProblems(source: string, err: z.ZodError): InvalidInputError[] {
  return err.issues.map((issue) => {
    const path = issue.path.length ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : p)).join('.').replace(/\.\[/g, '[') : '(top level)';
    return new InvalidInputError(`${source}: ${path}`, issue.message);
  });
}

/** Build a complete ClusterSpec from a raw (parsed, unvalidated) object plus CLI overrides. */
export function resolveSpec(raw: unknown, source: string, overrides: SpecOverrides = {}): ClusterSpec {
  const parsed = rawSpecSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new InvalidInputList(zodProblems(source, parsed.error));
  const r = parsed.data;
  const problems: InvalidInputError[] = [];
  const at = (field: string) => `${source}: ${field}`;
  const attempt = (fn: () => void) => {
    try {
      fn();
    } catch (e) {
      if (e instanceof InvalidInputError) problems.push(e);
      else throw e;
    }
  };

  let name = DEFAULTS.name;
  if (overrides.name !== undefined) attempt(() => (name = validateClusterName(overrides.name, '--name')));
  else if (r.name !== undefined) attempt(() => (name = validateClusterName(r.name, at('name'))));

  const net = r.networking ?? {};
  let cni: CniKind = net.cni ?? DEFAULTS.cni;
  if (overrides.cni !== undefined) {
    if ((CNI_KINDS as readonly string[]).includes(overrides.cni)) cni = overrides.cni as CniKind;
    else problems.push(new InvalidInputError('--cni', `expected one of ${CNI_KINDS.join(', ')}, got "${overrides.cni}"`));
  }
  // reference-bridge routes between nodes with static kernel routes (the "host-gw" shape): native only.
  let routing: RoutingMode = net.routing ?? (cni === 'reference-bridge' ? 'native' : 'tunnel');
  if (overrides.routing !== undefined) {
    if ((ROUTING_MODES as readonly string[]).includes(overrides.routing)) routing = overrides.routing as RoutingMode;
    else problems.push(new InvalidInputError('--routing', `expected one of ${ROUTING_MODES.join(', ')}, got "${overrides.routing}"`));
  }
  if (cni === 'reference-bridge' && routing === 'tunnel') {
    problems.push(
      new InvalidInputError(
        net.routing === 'tunnel' ? at('networking.routing') : '--routing',
        'the reference-bridge CNI routes between nodes with static routes (host-gw) and supports routing "native" only',
      ),
    );
  }

  const cidr = (field: string, value: string): Cidr | undefined => {
    const c = parseCidr(value);
    if (!c) problems.push(new InvalidInputError(at(field), `expected an IPv4 CIDR like 198.18.0.0/24 with no host bits set, got "${value}"`));
    return c;
  };
  const underlay = cidr('networking.underlaySubnet', net.underlaySubnet ?? DEFAULTS.underlaySubnet);
  const pods = cidr('networking.podSubnet', net.podSubnet ?? DEFAULTS.podSubnet);
  const services = cidr('networking.serviceSubnet', net.serviceSubnet ?? DEFAULTS.serviceSubnet);
  const nodeMaskSize = net.nodeMaskSize ?? DEFAULTS.nodeMaskSize;
  const mtu = net.mtu ?? DEFAULTS.mtu;

  const named: Array<[string, Cidr | undefined]> = [
    ['networking.underlaySubnet', underlay],
    ['networking.podSubnet', pods],
    ['networking.serviceSubnet', services],
  ];
  for (let i = 0; i < named.length; i++) {
    for (let j = i + 1; j < named.length; j++) {
      const [fa, a] = named[i]!;
      const [fb, b] = named[j]!;
      if (a && b && cidrsOverlap(a, b)) {
        problems.push(new InvalidInputError(at(fb), `${formatCidr(b)} overlaps ${fa} ${formatCidr(a)}; the three ranges must be disjoint`));
      }
    }
  }
  if (pods && nodeMaskSize < pods.prefix) {
    problems.push(new InvalidInputError(at('networking.nodeMaskSize'), `/${nodeMaskSize} is larger than podSubnet /${pods.prefix}`));
  }

  const nodeCount = overrides.nodes ?? r.nodes?.length ?? DEFAULTS.nodes;
  if (overrides.nodes !== undefined && (!Number.isInteger(overrides.nodes) || overrides.nodes < 1 || overrides.nodes > 32)) {
    problems.push(new InvalidInputError('--nodes', `expected a whole number from 1 to 32, got ${overrides.nodes}`));
  }
  // Node addresses are .11, .12, ... (FIRST_NODE_HOST); the last one must stay below the broadcast.
  if (underlay) {
    const room = Math.max(0, 2 ** (32 - underlay.prefix) - 1 - FIRST_NODE_HOST);
    if (nodeCount > room) {
      const from = overrides.nodes !== undefined ? '--nodes' : r.nodes ? 'nodes' : 'the default node count';
      problems.push(
        new InvalidInputError(
          at('networking.underlaySubnet'),
          `${formatCidr(underlay)} has room for ${room} nodes (node addresses start at .${FIRST_NODE_HOST} and end below the broadcast address), ${nodeCount} requested by ${from}`,
        ),
      );
    }
  }
  if (pods && nodeMaskSize >= pods.prefix && nodeCount > 2 ** (nodeMaskSize - pods.prefix)) {
    problems.push(new InvalidInputError(at('networking.podSubnet'), `${formatCidr(pods)} holds only ${2 ** (nodeMaskSize - pods.prefix)} node CIDRs of /${nodeMaskSize}, ${nodeCount} nodes requested`));
  }

  let hubble: HubbleConfig | undefined;
  try {
    hubble = resolveHubbleConfig(r.hubble, 'hubble');
  } catch (e) {
    if (!(e instanceof HubbleConfigError)) throw e;
    problems.push(new InvalidInputError(at(e.field), e.message.slice(e.field.length + 2)));
  }

  const nodes: NodeSpec[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < nodeCount && problems.length === 0; i++) {
    const rawNode = r.nodes?.[i];
    const field = at(`nodes[${i}]`);
    let nodeName = `node${i + 1}`;
    if (rawNode?.name !== undefined) attempt(() => (nodeName = validateNodeName(rawNode.name, `${field}.name`)));
    if (seen.has(nodeName)) problems.push(new InvalidInputError(`${field}.name`, `"${nodeName}" is used by another node`));
    seen.add(nodeName);
    const labels = rawNode?.labels ?? {};
    for (const k of Object.keys(labels)) {
      const key = k.includes('/') ? k.split('/').pop()! : k;
      if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(key) || key.length > 63) {
        problems.push(new InvalidInputError(`${field}.labels`, `"${k}" is not a valid label key`));
      }
    }
    const podCidr = subnet(pods!, nodeMaskSize, i);
    nodes.push({
      name: nodeName,
      index: i,
      labels: { 'kubernetes.io/hostname': nodeName, ...labels },
      // .1 is the fabric's gateway; nodes take .11, .12, ... so they read well in captures.
      underlayIp: formatIpv4(nthAddress(underlay!, FIRST_NODE_HOST + i)),
      podCidr: formatCidr(podCidr),
      podGateway: formatIpv4(nthAddress(podCidr, 1)),
    });
  }
  if (problems.length) throw problems.length === 1 ? problems[0]! : new InvalidInputList(problems);

  return {
    name,
    routing,
    tunnelProtocol: net.tunnelProtocol ?? 'vxlan',
    cni,
    underlaySubnet: formatCidr(underlay!),
    underlayGateway: formatIpv4(nthAddress(underlay!, 1)),
    podSubnet: formatCidr(pods!),
    serviceSubnet: formatCidr(services!),
    nodeMaskSize,
    mtu,
    podMtu: routing === 'tunnel' ? mtu - VXLAN_OVERHEAD : mtu,
    nodes,
    hubble,
    loadBalancer: { algorithm: net.loadBalancer?.algorithm ?? 'random', socketLB: net.loadBalancer?.socketLB ?? true },
  };
}

/** Read and validate a cluster file. */
export function loadSpecFile(file: string, overrides: SpecOverrides = {}): ClusterSpec {
  // `-` reads the file from standard input, as `kubectl apply -f -` does.
  let text: string;
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (e) {
    throw new InvalidInputError(file, `cannot read cluster file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (e) {
    const msg = e instanceof YAMLParseError ? e.message.split('\n')[0]! : String(e);
    throw new InvalidInputError(file, `not valid YAML: ${msg}`);
  }
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new InvalidInputError(`${file}: (top level)`, 'expected a mapping with kind: Cluster');
  }
  return resolveSpec(raw, file === '-' ? 'stdin' : file, overrides);
}

export { validateLabel };
