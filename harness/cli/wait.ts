// Waiting for pods to be Running (used by `apply --wait` and the scenarios), failing fast on Failed.
import type { ControlPlaneClient } from '../cluster/client.js';
import { CnilabError, WaitTimeoutError } from '../errors.js';

export async function waitPodsReady(client: ControlPlaneClient, pods: Array<{ namespace: string; name: string }>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const want = new Set(pods.map((p) => `${p.namespace}/${p.name}`));
  for (;;) {
    const all = await client.list('Pod');
    const pending: string[] = [];
    for (const p of all) {
      const key = `${p.metadata.namespace}/${p.metadata.name}`;
      if (!want.has(key)) continue;
      const status = (p.status ?? {}) as { phase?: string; message?: string };
      if (status.phase === 'Failed') throw new CnilabError('COMMAND_FAILED', `pod ${key} failed: ${status.message ?? 'unknown reason'}`);
      if (status.phase !== 'Running') pending.push(key);
    }
    const missing = [...want].filter((k) => !all.some((p) => `${p.metadata.namespace}/${p.metadata.name}` === k));
    if (!pending.length && !missing.length) return;
    if (Date.now() > deadline) throw new WaitTimeoutError(`pods to be Running: ${[...pending, ...missing].join(', ')}`, timeoutMs);
    await new Promise((r) => setTimeout(r, 25));
  }
}
