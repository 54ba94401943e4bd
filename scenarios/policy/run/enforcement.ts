// Waiting until the datapath enforces what was just applied, on every node: the same wait as
// `cnilab apply --wait` (harness/cli/wait.ts): every agent must report it has realized the control
// plane's revision, twice over, since realizing a relabel makes agents publish new identities. CNIs that
// report nothing (reference-bridge, kernel) cannot be waited for: the prober's retries then absorb any
// lag, and the step's detail says the wait was not possible.
import type { ClusterSpec } from '../../../harness/cluster/spec.js';
import type { ControlPlaneClient } from '../../../harness/cluster/client.js';
import { waitPolicyRealized } from '../../../harness/cli/wait.js';

export type EnforcementState = 'enforced' | 'not-reported' | 'timed-out';

export interface EnforcementWait {
  state: EnforcementState;
  ms: number;
  detail?: string;
}

export async function waitPolicyEnforced(spec: ClusterSpec, client: ControlPlaneClient, timeoutMs = 10_000): Promise<EnforcementWait> {
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  try {
    const r = await waitPolicyRealized(client, spec.name, (await client.healthz()).resourceVersion, timeoutMs);
    return r.waited ? { state: 'enforced', ms: ms() } : { state: 'not-reported', ms: ms(), ...(r.note ? { detail: r.note } : {}) };
  } catch (e) {
    // Not enforced in time (or an agent reports a problem): probe anyway; the mismatches will show it.
    return { state: 'timed-out', ms: ms(), detail: (e as Error).message };
  }
}
