// Waiting until the datapath enforces what was just applied, on every node. cnilab's agents report
// the control-plane revision their policy state has realized (GET /v1/policy); the wait ends when every
// agent is synced at or past the revision the control plane had after the apply. CNIs that report
// nothing (reference-bridge, kernel) cannot be waited for: the prober's retries then absorb any lag,
// and the report says the wait was not possible.
import { unixJsonRequest } from '../../../harness/exec/unix-http.js';
import { paths } from '../../../harness/cluster/names.js';
import type { ClusterSpec } from '../../../harness/cluster/spec.js';
import type { ControlPlaneClient } from '../../../harness/cluster/client.js';

export type EnforcementState = 'enforced' | 'not-reported' | 'timed-out';

export interface EnforcementWait {
  state: EnforcementState;
  ms: number;
  detail?: string;
}

interface PolicyStatus {
  synced?: boolean;
  revision?: number;
}

export async function waitPolicyEnforced(spec: ClusterSpec, client: ControlPlaneClient, timeoutMs = 10_000): Promise<EnforcementWait> {
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  if (spec.cni !== 'cnilab') return { state: 'not-reported', ms: 0, detail: `the ${spec.cni} CNI reports no policy state` };
  const target = (await client.healthz()).resourceVersion;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(
      spec.nodes.map(async (n) => {
        const res = await unixJsonRequest(paths.agentSocket(spec.name, n.name), 'GET', '/v1/policy?entries=0', undefined, 5000).catch(() => undefined);
        return { node: n.name, status: res?.status, body: res?.body as PolicyStatus | undefined };
      }),
    );
    if (states.some((s) => s.status === 404)) return { state: 'not-reported', ms: ms(), detail: 'the agents do not report their policy state (no /v1/policy)' };
    const behind = states.filter((s) => !(s.status === 200 && s.body?.synced && (s.body.revision ?? -1) >= target));
    if (!behind.length) return { state: 'enforced', ms: ms() };
    if (Date.now() > deadline) {
      return { state: 'timed-out', ms: ms(), detail: `not enforced within ${timeoutMs} ms on ${behind.map((b) => `${b.node} (revision ${b.body?.revision ?? '?'} of ${target})`).join(', ')}` };
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}
