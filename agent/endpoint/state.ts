// Endpoint state files (<nodeDir>/endpoints/<containerId>.json): what the agent needs to restore an
// endpoint after a restart that the datapath's maps do not hold (container ID, pod name, netns, labels).
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';

export interface EndpointState {
  containerId: string;
  endpointId: number;
  /** Host-side veth in the node netns (lxc + 12 hex). */
  hostIfname: string;
  ifindex: number;
  hostMac: string;
  /** Pod-side interface name (CNI_IFNAME) and its MAC. */
  podIfname: string;
  podMac: string;
  netns: string;
  ip: string;
  mtu: number;
  identity: number;
  labels: string[];
  podNamespace: string;
  podName: string;
  createdAt: string;
}

/** CNI container IDs: alphanumerics plus '_', '.', '-', starting alphanumeric (spec 1.0). Checked
 *  before the ID becomes a file name. */
export const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$/;

/** Cilium-style host interface name: "lxc" + 12 hex of sha256(containerId), 15 chars (IFNAMSIZ). */
export function hostIfnameFor(containerId: string): string {
  return `lxc${createHash('sha256').update(containerId).digest('hex').slice(0, 12)}`;
}

export class EndpointStateStore {
  constructor(readonly dir: string) {}

  private file(containerId: string): string {
    if (!CONTAINER_ID.test(containerId)) throw new Error(`invalid container ID ${JSON.stringify(containerId)}`);
    return join(this.dir, `${containerId}.json`);
  }

  save(st: EndpointState): void {
    mkdirSync(this.dir, { recursive: true });
    const f = this.file(st.containerId);
    writeFileSync(`${f}.tmp`, JSON.stringify(st, null, 1));
    renameSync(`${f}.tmp`, f);
  }

  load(containerId: string): EndpointState | undefined {
    try {
      return JSON.parse(readFileSync(this.file(containerId), 'utf8')) as EndpointState;
    } catch {
      return undefined;
    }
  }

  remove(containerId: string): void {
    rmSync(this.file(containerId), { force: true });
  }

  /** Every readable state file; unreadable ones (a crash mid-write leaves only *.tmp) are skipped. */
  list(): EndpointState[] {
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: EndpointState[] = [];
    for (const n of names) {
      if (n.endsWith('.tmp')) {
        rmSync(join(this.dir, n), { force: true });
        continue;
      }
      if (!n.endsWith('.json')) continue;
      try {
        out.push(JSON.parse(readFileSync(join(this.dir, n), 'utf8')) as EndpointState);
      } catch {
        /* skipped: see above */
      }
    }
    return out;
  }
}
