// Limits on what the control plane accepts. Kubernetes bounds objects by etcd's request size and a
// few per-field caps; an embedded control plane that holds everything in one process's memory, and
// whose pods each cost namespaces, links and sockets, needs explicit ones: without them a Pod with
// 10 000 containers was accepted. Each limit is checked before the object's schema (so a huge object
// costs no deep validation) and reported as bad input naming the field, and a batch over a limit is
// refused whole: nothing of it is stored.
import { InvalidInputError } from '../errors.js';

export const LIMITS = {
  /** One object, serialized. (etcd's default request limit is 1.5 MiB.) */
  objectBytes: 1024 * 1024,
  /** Objects in one apply (one request, or the documents of the files of one `cnilab apply`). */
  objectsPerApply: 1000,
  /**
   * Objects the store holds in all (user objects and what cnilab writes per pod). 10k Services need
   * 20k objects (a Service and its EndpointSlice each) before any pod; 60k leaves room for them, the
   * pods and their endpoints. Measured with 10k Services + 10k EndpointSlices: the store, its
   * snapshot and the agents' informers stay within a few hundred MiB (README, Services).
   */
  totalObjects: 60_000,
  /** A request body of the control-plane API, and a manifest file. */
  requestBytes: 8 * 1024 * 1024,
  containersPerPod: 32,
  portsPerContainer: 128,
  envPerContainer: 256,
  argsPerContainer: 1024,
  portsPerService: 256,
  labelsPerObject: 64,
  /** Annotations together (Kubernetes' own limit is 256 KiB). */
  annotationBytes: 256 * 1024,
  rulesPerPolicy: 256,
  peersPerRule: 256,
  /** Pods a Deployment or ReplicaSet may ask for (each costs a netns, a veth pair and sockets). */
  replicasPerWorkload: 1000,
} as const;

const isMap = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const len = (v: unknown) => (Array.isArray(v) ? v.length : 0);

/** Every limit `raw` (one object, not yet validated) exceeds, as problems naming the field. */
export function limitProblems(raw: unknown, where: string): InvalidInputError[] {
  const out: InvalidInputError[] = [];
  const over = (field: string, what: string, n: number, max: number) => {
    if (n > max) out.push(new InvalidInputError(`${where}: ${field}`, `${n} ${what}; at most ${max} allowed`));
  };
  if (!isMap(raw)) return out;
  let bytes = 0;
  try {
    bytes = Buffer.byteLength(JSON.stringify(raw) ?? '');
  } catch {
    bytes = Infinity; // not serializable (a cycle): no object of ours
  }
  over('(top level)', 'bytes of JSON', bytes, LIMITS.objectBytes);
  const meta = isMap(raw.metadata) ? raw.metadata : {};
  if (isMap(meta.labels)) over('metadata.labels', 'labels', Object.keys(meta.labels).length, LIMITS.labelsPerObject);
  if (isMap(meta.annotations)) {
    const size = Object.entries(meta.annotations).reduce((n, [k, v]) => n + Buffer.byteLength(k) + (typeof v === 'string' ? Buffer.byteLength(v) : 0), 0);
    over('metadata.annotations', 'bytes of annotations', size, LIMITS.annotationBytes);
  }
  const spec = isMap(raw.spec) ? raw.spec : {};
  if (raw.kind === 'Pod') {
    over('spec.containers', 'containers', len(spec.containers), LIMITS.containersPerPod);
    if (Array.isArray(spec.containers) && spec.containers.length <= LIMITS.containersPerPod) {
      spec.containers.forEach((c, i) => {
        if (!isMap(c)) return;
        over(`spec.containers[${i}].ports`, 'ports', len(c.ports), LIMITS.portsPerContainer);
        over(`spec.containers[${i}].env`, 'environment variables', len(c.env), LIMITS.envPerContainer);
        over(`spec.containers[${i}].command`, 'command items', len(c.command), LIMITS.argsPerContainer);
        over(`spec.containers[${i}].args`, 'args', len(c.args), LIMITS.argsPerContainer);
      });
    }
  } else if (raw.kind === 'Deployment' || raw.kind === 'ReplicaSet') {
    if (Number.isSafeInteger(spec.replicas)) over('spec.replicas', 'replicas', spec.replicas as number, LIMITS.replicasPerWorkload);
  } else if (raw.kind === 'Service') {
    over('spec.ports', 'ports', len(spec.ports), LIMITS.portsPerService);
  } else if (raw.kind === 'NetworkPolicy' || raw.kind === 'CiliumNetworkPolicy') {
    const rules = raw.kind === 'CiliumNetworkPolicy' && Array.isArray(raw.specs) ? raw.specs.filter(isMap) : [spec];
    rules.forEach((r, j) => {
      const at = raw.kind === 'CiliumNetworkPolicy' && Array.isArray(raw.specs) ? `specs[${j}]` : 'spec';
      for (const dir of ['ingress', 'egress', 'ingressDeny', 'egressDeny']) {
        over(`${at}.${dir}`, 'rules', len(r[dir]), LIMITS.rulesPerPolicy);
        if (!Array.isArray(r[dir]) || len(r[dir]) > LIMITS.rulesPerPolicy) continue;
        (r[dir] as unknown[]).forEach((rule, i) => {
          if (!isMap(rule)) return;
          for (const peers of ['from', 'to', 'fromEndpoints', 'toEndpoints', 'fromCIDR', 'toCIDR', 'ports', 'toPorts']) {
            over(`${at}.${dir}[${i}].${peers}`, 'entries', len(rule[peers]), LIMITS.peersPerRule);
          }
        });
      }
    });
  }
  return out;
}

export function checkBatchSize(n: number, field: string): void {
  if (n > LIMITS.objectsPerApply) throw new InvalidInputError(field, `${n} objects in one apply; at most ${LIMITS.objectsPerApply} allowed (split the files)`);
}

export function checkTextSize(bytes: number, field: string): void {
  if (bytes > LIMITS.requestBytes) throw new InvalidInputError(field, `${bytes} bytes; at most ${LIMITS.requestBytes} allowed`);
}
