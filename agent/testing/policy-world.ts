// A small world for unit tests of the policy engine: namespaces and pods with labels, container ports
// and IPs, identities allocated per label set the way the control plane does, every pod a local
// endpoint of the engine, and verdicts looked up the way the datapath does (agent/policy/verdict.ts)
// with an LPM lookup of the destination in "the ipcache" (pod IPs, then the engine's CIDR identities,
// else world). No datapath, no control plane.
import { parseAllDocuments } from 'yaml';
import { parseIpv4 } from '../../lib/net/cidr.js';
import { podSecurityLabels, RESERVED_IDENTITY } from '../identity/labels.js';
import { PolicyEngine, type EngineOptions } from '../policy/engine.js';
import type { PolicyObject } from '../policy/compile.js';
import type { EndpointPolicy } from '../policy/types.js';
import { connectionVerdict, type Verdict } from '../policy/verdict.js';

export interface WorldPod {
  ns: string;
  name: string;
  labels: Record<string, string>;
  ip: string;
  ports: Array<{ name?: string; containerPort: number; protocol?: string }>;
  endpointId: number;
  identity: number;
}

const PROTO: Record<string, number> = { TCP: 6, UDP: 17, SCTP: 132 };

/** The netpol e2e containers: serve-80-tcp, serve-80-udp, serve-81-tcp, serve-81-udp. */
export const XYZ_PORTS = [80, 81].flatMap((port) => ['tcp', 'udp'].map((p) => ({ name: `serve-${port}-${p}`, containerPort: port, protocol: p.toUpperCase() })));

export class PolicyWorld {
  readonly engine: PolicyEngine;
  readonly namespaces = new Map<string, Record<string, string>>();
  readonly pods = new Map<string, WorldPod>();
  private ids = new Map<string, number>();
  private nextEndpoint = 1;
  private nextIp = 1;

  constructor(opts: EngineOptions = {}) {
    this.engine = new PolicyEngine(opts);
  }

  /** x, y, z with labels ns=<name>; pods a, b, c with pod=<name> serving 80 and 81 on TCP and UDP. */
  static xyz(opts: EngineOptions = {}): PolicyWorld {
    const w = new PolicyWorld(opts);
    for (const ns of ['x', 'y', 'z']) {
      w.addNamespace(ns, { ns });
      for (const pod of ['a', 'b', 'c']) w.addPod(ns, pod, { pod });
    }
    return w;
  }

  private identityOf(labels: string[]): number {
    const key = JSON.stringify(labels);
    if (!this.ids.has(key)) this.ids.set(key, 256 + this.ids.size);
    return this.ids.get(key)!;
  }

  addNamespace(name: string, labels: Record<string, string> = {}): void {
    this.namespaces.set(name, { ...labels, 'kubernetes.io/metadata.name': name });
    for (const p of this.pods.values()) if (p.ns === name) this.sync(p);
  }

  addPod(ns: string, name: string, labels: Record<string, string>, opts: { ports?: WorldPod['ports']; ip?: string } = {}): WorldPod {
    const p: WorldPod = { ns, name, labels, ip: opts.ip ?? `198.19.0.${this.nextIp++}`, ports: opts.ports ?? XYZ_PORTS, endpointId: this.nextEndpoint++, identity: 0 };
    this.pods.set(`${ns}/${name}`, p);
    this.engine.setPod(`${ns}/${name}`, { spec: { containers: [{ ports: p.ports }] } });
    this.sync(p);
    return p;
  }

  labelPod(key: string, labels: Record<string, string>): void {
    const p = this.pod(key);
    p.labels = labels;
    this.sync(p);
  }

  deletePod(key: string): void {
    const p = this.pod(key);
    this.engine.removeLocalEndpoint(p.endpointId);
    this.engine.setPod(key, undefined);
    this.pods.delete(key);
  }

  private sync(p: WorldPod): void {
    const labels = podSecurityLabels(p.ns, p.labels, this.namespaces.get(p.ns));
    p.identity = this.identityOf(labels);
    this.engine.upsertLocalEndpoint({ endpointId: p.endpointId, identity: p.identity, pod: `${p.ns}/${p.name}` }, labels, p.ip);
  }

  pod(key: string): WorldPod {
    const p = this.pods.get(key);
    if (!p) throw new Error(`no pod ${key}`);
    return p;
  }

  /** Apply policies given as YAML (one or more documents) or objects. */
  apply(...docs: Array<string | PolicyObject>): void {
    for (const d of docs) {
      const objs = typeof d === 'string' ? parseAllDocuments(d).map((doc) => doc.toJS() as unknown).filter(Boolean) : [d];
      for (const o of objs as PolicyObject[]) {
        if (!this.engine.upsertPolicy(o)) throw new Error(`policy ${o.metadata.name} rejected: ${[...this.engine.problems.values()].join('; ')}`);
      }
    }
  }

  remove(kind: string, ns: string, name: string): void {
    this.engine.deletePolicy(kind, ns, name);
  }

  policyOf(key: string): EndpointPolicy {
    return this.engine.compute(this.pod(key).endpointId);
  }

  /** Identity of an address as the ipcache would give it: a pod, the longest CIDR identity, or world. */
  identityOfIp(ip: string): number {
    for (const p of this.pods.values()) if (p.ip === ip) return p.identity;
    const n = parseIpv4(ip)!;
    let best: [number, number] | undefined;
    for (const [prefix, id] of this.engine.cidrIdentities()) {
      const [base, len] = prefix.split('/');
      const l = Number(len);
      const mask = l === 0 ? 0 : (0xffffffff << (32 - l)) >>> 0;
      if (((n & mask) >>> 0) === parseIpv4(base!)! && (!best || l > best[0])) best = [l, id];
    }
    return best ? best[1] : RESERVED_IDENTITY.world;
  }

  /** Verdict of a connection from pod `from` ("ns/name") to pod or IP `to` on protocol/port. */
  verdict(from: string, to: string, protocol: 'TCP' | 'UDP' | 'SCTP' = 'TCP', port = 80): Verdict {
    const src = { policy: this.policyOf(from), identity: this.pod(from).identity };
    const dstPod = this.pods.get(to);
    const dst = dstPod ? { policy: this.policyOf(to), identity: dstPod.identity } : { identity: this.identityOfIp(to) };
    return connectionVerdict(src, dst, PROTO[protocol]!, port).verdict;
  }

  /** Verdict of traffic from a peer identity (host, world, a CIDR) into a pod. */
  ingressFrom(identity: number, to: string, protocol: 'TCP' | 'UDP' | 'SCTP' = 'TCP', port = 80): Verdict {
    return connectionVerdict({ identity }, { policy: this.policyOf(to), identity: this.pod(to).identity }, PROTO[protocol]!, port).verdict;
  }

  /** Every pod pair on one port: '.' allowed, 'X' not, in the netpol e2e's table order. */
  matrix(protocol: 'TCP' | 'UDP' | 'SCTP' = 'TCP', port = 80): string {
    const keys = [...this.pods.keys()];
    return keys.map((f) => `${f}\t${keys.map((t) => (this.verdict(f, t, protocol, port) === 'allowed' ? '.' : 'X')).join('')}`).join('\n');
  }
}
