// The agent's service handling, wired: the LB maps (recovered from their pins), the service manager fed
// by its own watch of Services and EndpointSlices (reconnecting like the agent's other watch), and the
// registry of network namespaces whose sockets this node load-balances (its own, and one per endpoint,
// added at CNI ADD and removed at DEL).
import type { LbAlgorithm } from '../../lib/services.js';
import { ServiceManager } from './manager.js';
import type { LbMaps, ObjectWatch } from './types.js';

export { ServiceManager } from './manager.js';
export type { LbMaps, ObjectWatch } from './types.js';

const WATCH_RETRY_MS = 1000;
const IDENTITY_HOST = 1;

export interface ServiceHandlingDeps {
  maps: LbMaps;
  nodeName: string;
  nodeIp: string;
  algorithm: LbAlgorithm;
  watch: ObjectWatch;
  /** The cookie of a network namespace (undefined: the agent's own, the node's). */
  netnsCookie: (netns?: string) => bigint;
  log: (m: string) => void;
}

export interface LbEndpoint {
  netns: string;
  ip: string;
  identity: number;
}

export class ServiceHandling {
  readonly manager: ServiceManager;
  private stopWatch?: () => void;
  private stopping = false;
  problem?: string;
  /** endpoint netns path → cookie registered for it */
  private cookies = new Map<string, bigint>();

  constructor(private d: ServiceHandlingDeps) {
    this.manager = new ServiceManager({ maps: d.maps, nodeName: d.nodeName, algorithm: d.algorithm, log: d.log });
  }

  /**
   * Recover the maps' state, register the node's and the restored endpoints' namespaces (dropping
   * registrations of namespaces that are gone), and start watching. Resolves at the first SYNCED.
   */
  start(endpoints: LbEndpoint[], timeoutMs: number): Promise<void> {
    const restored = this.manager.restore();
    this.syncNetns(endpoints);
    return new Promise((resolve, reject) => {
      let first = true;
      const timer = setTimeout(() => reject(new Error(`no SYNCED of Services/EndpointSlices within ${timeoutMs} ms`)), timeoutMs);
      const connect = () => {
        this.manager.resetWatchState();
        this.stopWatch = this.d.watch(
          ['Service', 'EndpointSlice'],
          (ev) => {
            try {
              this.manager.handle(ev);
              if (ev.type === 'SYNCED') this.problem = undefined;
            } catch (e) {
              this.problem = `service maps update failed: ${(e as Error).message}`;
              this.d.log(this.problem);
            }
            if (ev.type === 'SYNCED' && first) {
              first = false;
              clearTimeout(timer);
              this.d.log(`services: ${this.manager.list().length} frontends programmed (${restored} recovered from the pinned maps)`);
              resolve();
            }
          },
          (err) => {
            if (this.stopping) return;
            this.problem = `service watch ended${err ? `: ${err.message}` : ''}; reconnecting`;
            setTimeout(connect, WATCH_RETRY_MS).unref();
          },
        );
      };
      connect();
    });
  }

  private syncNetns(endpoints: LbEndpoint[]): void {
    const want = new Map<bigint, { identity: number; ip: string; host: boolean }>();
    want.set(this.d.netnsCookie(), { identity: IDENTITY_HOST, ip: this.d.nodeIp, host: true });
    for (const ep of endpoints) {
      try {
        const cookie = this.d.netnsCookie(ep.netns);
        this.cookies.set(ep.netns, cookie);
        want.set(cookie, { identity: ep.identity, ip: ep.ip, host: false });
      } catch (e) {
        this.d.log(`services: no netns cookie for ${ep.netns}: ${(e as Error).message}`);
      }
    }
    for (const { cookie } of this.d.maps.listNetns()) if (!want.has(cookie)) this.d.maps.deleteNetns(cookie);
    for (const [cookie, ns] of want) this.d.maps.setNetns(cookie, ns);
  }

  /** A new endpoint: its sockets are load-balanced from now on. */
  endpointAdded(ep: LbEndpoint): void {
    const cookie = this.d.netnsCookie(ep.netns);
    this.cookies.set(ep.netns, cookie);
    this.d.maps.setNetns(cookie, { identity: ep.identity, ip: ep.ip, host: false });
  }

  endpointRemoved(netns: string): void {
    const cookie = this.cookies.get(netns);
    if (cookie === undefined) return;
    this.cookies.delete(netns);
    this.d.maps.deleteNetns(cookie);
  }

  stop(): void {
    this.stopping = true;
    this.stopWatch?.();
  }
}
