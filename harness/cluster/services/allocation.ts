// Service admission: what the Kubernetes API server's Service registry does at create/update time.
// A ClusterIP comes from the cluster's serviceSubnet (spec.clusterIP when given, in range and free;
// else the lowest free address), a NodePort from 30000-32767 (the given one when free, else the lowest
// free one), both kept across re-applies that leave them out (kubectl apply semantics) and immutable
// once set. Problems name the field and are reported at apply time (exit 2), before anything is stored.
import { InvalidInputError } from '../../errors.js';
import { cidrContains, cidrSize, formatIpv4, parseCidr, parseIpv4, type Cidr } from '../cidr.js';
import { objectKey, type KubeObject, type Service } from '../objects.js';
import type { Admission, WatchEvent } from '../store.js';

export const NODE_PORT_RANGE = { min: 30000, max: 32767 } as const;

/** Batch scratch keys: what this apply allocated so far (see Admission). */
const BATCH_IPS = 'services/clusterIPs';
const BATCH_PORTS = 'services/nodePorts';

/** A field of the object being admitted; `where` is empty when the Kubernetes API reports bare paths. */
const at = (where: string, field: string) => (where ? `${where}: ${field}` : field);

function batchSet<T>(batch: Map<string, unknown>, key: string): Map<T, string> {
  let m = batch.get(key) as Map<T, string> | undefined;
  if (!m) batch.set(key, (m = new Map()));
  return m;
}

/** Which Service holds which ClusterIP and NodePort: kept from the store's watch events. */
export class ServiceAllocations {
  readonly range: Cidr;
  private ips = new Map<number, string>();
  private ports = new Map<number, string>();
  /** What each Service holds: addresses (always >= 2^16 in a service range) and node ports. */
  private byOwner = new Map<string, number[]>();
  /** Lowest address that might be free; addresses below it were all taken when it was set. */
  private ipHint: number;
  private portHint: number = NODE_PORT_RANGE.min;

  constructor(serviceSubnet: string) {
    const range = parseCidr(serviceSubnet);
    if (!range || range.prefix > 30 || range.base < 0x10000) throw new Error(`serviceSubnet ${serviceSubnet} is not a usable IPv4 CIDR`);
    this.range = range;
    this.ipHint = range.base + 1;
  }

  /** Follow the store: a stored Service holds what its spec says, a deleted one releases it. */
  onEvent(ev: WatchEvent): void {
    if (ev.object.kind !== 'Service') return;
    const key = objectKey(ev.object);
    const before = this.byOwner.get(key) ?? [];
    for (const v of before) (v < 0x10000 ? this.ports : this.ips).delete(v);
    const now: number[] = [];
    if (ev.type !== 'DELETED') {
      const spec = (ev.object as Service).spec;
      const ip = spec?.clusterIP ? parseIpv4(spec.clusterIP) : undefined;
      if (ip !== undefined) now.push(ip);
      for (const p of spec?.ports ?? []) if (p.nodePort) now.push(p.nodePort);
      for (const v of now) (v < 0x10000 ? this.ports : this.ips).set(v, key);
    }
    if (now.length) this.byOwner.set(key, now);
    else this.byOwner.delete(key);
    // Something was released: the lowest free value may be below the hints now.
    if (before.some((v) => !now.includes(v))) {
      this.ipHint = this.range.base + 1;
      this.portHint = NODE_PORT_RANGE.min;
    }
  }

  get allocatedIps(): number {
    return this.ips.size;
  }

  /** The admission step to register with ObjectStore.admit. */
  readonly admission: Admission = (obj, old, where, batch) => (obj.kind === 'Service' ? this.admitService(obj as Service, old as Service | undefined, where, batch) : obj);

  private admitService(svc: Service, old: Service | undefined, where: string, batch: Map<string, unknown>): KubeObject {
    const key = objectKey(svc);
    const spec = svc.spec;
    const batchIps = batchSet<number>(batch, BATCH_IPS);
    const batchPorts = batchSet<number>(batch, BATCH_PORTS);
    const oldIp = old?.spec?.clusterIP;

    // ClusterIP: immutable once set; a re-apply without it keeps it.
    if (spec.clusterIP === undefined || spec.clusterIP === '') {
      if (oldIp) spec.clusterIP = oldIp;
    } else if (oldIp && spec.clusterIP !== oldIp) {
      throw new InvalidInputError(at(where, 'spec.clusterIP'), `field is immutable (the Service has ${oldIp}); delete the Service to change it`);
    }
    if (spec.clusterIP === undefined || spec.clusterIP === '') {
      spec.clusterIP = formatIpv4(this.allocateIp(key, batchIps, where));
    } else if (spec.clusterIP !== 'None' && spec.clusterIP !== oldIp) {
      const ip = parseIpv4(spec.clusterIP)!;
      if (!cidrContains(this.range, ip) || ip === this.range.base || ip === this.broadcast()) {
        throw new InvalidInputError(at(where, 'spec.clusterIP'), `${spec.clusterIP} is not in the cluster's service range ${formatIpv4(this.range.base)}/${this.range.prefix} (serviceSubnet)`);
      }
      const owner = this.ips.get(ip) ?? batchIps.get(ip);
      if (owner && owner !== key) throw new InvalidInputError(at(where, 'spec.clusterIP'), `${spec.clusterIP} is already allocated to ${owner.split('/').slice(1).join('/')}`);
      batchIps.set(ip, key);
    }
    spec.clusterIPs = spec.clusterIP === 'None' ? ['None'] : [spec.clusterIP];

    // NodePorts: a port keeps the node port it had (matched by name, else by port and protocol).
    if (spec.type === 'NodePort') {
      const oldPorts = old?.spec?.type === 'NodePort' ? old.spec.ports : [];
      spec.ports.forEach((p, i) => {
        const prev = oldPorts.find((o) => (o.name ?? '') === (p.name ?? '') && o.port === p.port && o.protocol === p.protocol)?.nodePort;
        if (p.nodePort === undefined) {
          p.nodePort = prev ?? this.allocatePort(key, batchPorts, at(where, `spec.ports[${i}].nodePort`));
          batchPorts.set(p.nodePort, key);
          return;
        }
        const owner = this.ports.get(p.nodePort) ?? batchPorts.get(p.nodePort);
        if (owner && owner !== key) throw new InvalidInputError(at(where, `spec.ports[${i}].nodePort`), `${p.nodePort} is already allocated to ${owner.split('/').slice(1).join('/')}`);
        if (batchPorts.get(p.nodePort) === key && p.nodePort !== prev) throw new InvalidInputError(at(where, `spec.ports[${i}].nodePort`), `${p.nodePort} is used twice in this Service`);
        batchPorts.set(p.nodePort, key);
      });
    }
    return svc;
  }

  private broadcast(): number {
    return this.range.base + cidrSize(this.range) - 1;
  }

  private allocateIp(key: string, batchIps: Map<number, string>, where: string): number {
    for (let ip = this.ipHint; ip < this.broadcast(); ip++) {
      if (this.ips.has(ip) || batchIps.has(ip)) continue;
      this.ipHint = ip;
      batchIps.set(ip, key);
      return ip;
    }
    throw new InvalidInputError(at(where, 'spec.clusterIP'), `no free address left in the service range ${formatIpv4(this.range.base)}/${this.range.prefix} (${this.ips.size} allocated)`);
  }

  private allocatePort(key: string, batchPorts: Map<number, string>, field: string): number {
    for (let port = this.portHint; port <= NODE_PORT_RANGE.max; port++) {
      if (this.ports.has(port) || batchPorts.has(port)) continue;
      this.portHint = port;
      batchPorts.set(port, key);
      return port;
    }
    throw new InvalidInputError(field, `no free node port left in ${NODE_PORT_RANGE.min}-${NODE_PORT_RANGE.max}`);
  }
}
