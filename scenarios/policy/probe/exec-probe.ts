// A probe through a provider's exec (pods/exec over WebSocket on a cluster from a kubeconfig): the
// connectivity suite's probe command (`agnhost cnilab-whoami HOST:PORT --protocol=…`, which reads the
// responder's hostname) run inside the source pod, its result turned into the prober's observation.
// Used where the prober cannot open sockets in the pods' namespaces itself (any provider but netns).
// No source port is chosen (the pod's kernel picks it) and no flows are watched: a block's evidence
// is the timeout or the refusal, and the step says that drop flows could not confirm it.
import type { Provider } from '../../../harness/providers/common/provider.js';
import { probeThrough } from '../../framework/provider-access.js';
import type { ProbeObservation, ProbeRequest } from './prober.js';

/** "ns/name" of a pod source; node and external sources have no exec path here. */
function podOf(key: string): { namespace: string; name: string } {
  const m = /^([^/]+)\/([^/]+)$/.exec(key);
  if (!m || m[1] === 'node' || m[1] === 'external') throw new Error(`${key}: only pods can be probed from through this provider`);
  return { namespace: m[1]!, name: m[2]! };
}

export function execAttempt(provider: Provider, timeoutMs: number): (req: ProbeRequest) => Promise<ProbeObservation> {
  return async (req) => {
    const r = await probeThrough(provider, { pod: podOf(req.from.key) }, { protocol: req.protocol === 'TCP' ? 'tcp' : 'udp', host: req.to.ip, port: req.port, timeoutMs, identify: true });
    const base = { sourcePort: 0, ms: r.durationMs, flows: [] };
    switch (r.outcome) {
      case 'ok':
        return { ...base, connected: true, evidence: r.responder === req.to.answer ? 'answer' : 'wrong-answer', ...(r.responder !== undefined ? { answer: r.responder } : {}) };
      case 'timeout':
        return { ...base, connected: false, evidence: 'timeout' };
      case 'refused':
        return { ...base, connected: false, evidence: 'refused' };
      case 'other':
        // Unreachable, reset: the network said no in another way; still not connected.
        return { ...base, connected: false, evidence: 'unreachable', error: (r.failure ?? 'OTHER') + (r.stderr ? `: ${r.stderr.trim().split('\n')[0]}` : '') };
      default:
        return { ...base, connected: undefined, evidence: 'error', error: `${r.command.join(' ')}: exit ${r.exitCode}${r.stderr ? `: ${r.stderr.trim().split('\n').slice(-1)[0]}` : ''}` };
    }
  };
}
