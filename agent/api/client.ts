// Client of the agent's API (server.ts), used by `cnilab status`, the tests and the scenarios.
import { unixJsonRequest } from '../../lib/net/unix-http.js';
import { agentSocketPath } from '../../lib/run-layout.js';
import type { CniAddResult, CniGcRequest, CniGcResult, CniRequest } from '../cni/protocol.js';
import type { EndpointState } from '../endpoint/state.js';
import type { Flow } from '../observer/flow.js';
import type { EndpointPolicy } from '../policy/types.js';

export interface AgentPolicyStatus {
  node: string;
  synced: boolean;
  /** The control plane revision this agent's policy state has realized in the datapath. */
  revision: number;
  problem?: string;
  counts: { policies: number; selectors: number; identities: number; cidrIdentities: number; endpoints: number; entries: number };
  cidrIdentities: Record<string, number>;
  lastFlush: { at: number; endpoints: number; written: number; entries: number; ms: number };
  history: Array<{ revision: number; at: number }>;
  rejected: Record<string, string>;
  notes: Record<string, string[]>;
  endpoints: Array<{
    endpointId: number;
    pod: string;
    identity: number;
    policies: string[];
    ingressEnforced: boolean;
    egressEnforced: boolean;
    entryCount: number;
    written: boolean;
    entries?: EndpointPolicy['entries'];
  }>;
}

export class AgentApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: any,
  ) {
    super(body?.msg ?? body?.error?.message ?? `agent answered HTTP ${status}`);
  }
}

export class AgentClient {
  readonly socketPath: string;

  constructor(
    readonly cluster: string,
    readonly node: string,
    socketPath?: string,
  ) {
    this.socketPath = socketPath ?? agentSocketPath(cluster, node);
  }

  private call<T>(method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
    return unixJsonRequest(this.socketPath, method, path, body, timeoutMs).then((res) => {
      if (res.status >= 400) throw new AgentApiError(res.status, res.body);
      return res.body as T;
    });
  }

  healthz(timeoutMs = 2000): Promise<{ ok: boolean; message?: string; node: string; endpoints: number; policyRevision?: number; policyProblem?: string }> {
    return this.call('GET', '/v1/healthz', undefined, timeoutMs);
  }
  /** The agent's policy state; without entries it stays small at scale. */
  policy(opts: { entries?: boolean; timeoutMs?: number } = {}): Promise<AgentPolicyStatus> {
    return this.call('GET', `/v1/policy${opts.entries === false ? '?entries=0' : ''}`, undefined, opts.timeoutMs ?? 10_000);
  }
  endpoints(): Promise<EndpointState[]> {
    return this.call('GET', '/v1/endpoints');
  }
  identities(): Promise<Array<{ id: number; labels: string[] }>> {
    return this.call('GET', '/v1/identities');
  }
  ipcache(): Promise<Array<{ key: string; identity: number; tunnelEndpoint?: string }>> {
    return this.call('GET', '/v1/ipcache');
  }
  maps(): Promise<{
    maps: Array<{ name: string; type: string; entries: number; maxEntries: number }>;
    drops: Array<{ reason: number; reasonDesc: string; direction: number; packets: string; bytes: string }>;
    lostEvents: string;
  }> {
    return this.call('GET', '/v1/maps');
  }
  flows(last = 100): Promise<{ flows: Flow[]; seen: number; capacity: number }> {
    return this.call('GET', `/v1/flows?last=${last}`);
  }
  /** The load-balancer frontends the agent programmed (frontend "ip:port/PROTO", backends by slot). */
  services(): Promise<Array<{ frontend: string; svcId: number; service?: string; port?: string; flags: number; backends: string[]; internal?: string[] }>> {
    return this.call('GET', '/v1/services');
  }
  cniAdd(req: CniRequest): Promise<CniAddResult> {
    return this.call('POST', '/v1/cni/add', req, 30_000);
  }
  cniDel(req: CniRequest): Promise<void> {
    return this.call('POST', '/v1/cni/del', req, 30_000);
  }
  cniCheck(req: CniRequest): Promise<void> {
    return this.call('POST', '/v1/cni/check', req, 30_000);
  }
  cniGc(req: CniGcRequest): Promise<CniGcResult> {
    return this.call('POST', '/v1/cni/gc', req, 60_000);
  }
}
