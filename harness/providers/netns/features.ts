// Kernel feature probes, made up front in a scratch network namespace so a missing feature is
// reported as "unsupported: X (needs Y)" before anything of a cluster is created.
import { run } from '../../exec/run.js';

export interface FeatureProbe {
  /** What a user would miss, e.g. "VXLAN tunnel". */
  what: string;
  /** The kernel option that provides it. */
  needs: string;
  /** ip/tc commands run inside the scratch namespace; the feature is there if they all succeed. */
  commands: string[][];
}

export const FEATURES = {
  vxlan: { what: 'VXLAN tunnel', needs: 'CONFIG_VXLAN', commands: [['ip', 'link', 'add', 'probe0', 'type', 'vxlan', 'external', 'dstport', '8472']] },
  geneve: { what: 'Geneve tunnel', needs: 'CONFIG_GENEVE', commands: [['ip', 'link', 'add', 'probe0', 'type', 'geneve', 'external']] },
  veth: { what: 'veth pairs', needs: 'CONFIG_VETH', commands: [['ip', 'link', 'add', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1']] },
  bridge: { what: 'Linux bridge', needs: 'CONFIG_BRIDGE', commands: [['ip', 'link', 'add', 'probe0', 'type', 'bridge']] },
  clsact: { what: 'tc clsact hooks for BPF programs', needs: 'CONFIG_NET_CLS_ACT and CONFIG_NET_SCH_INGRESS', commands: [['tc', 'qdisc', 'add', 'dev', 'lo', 'clsact']] },
} satisfies Record<string, FeatureProbe>;

export type FeatureName = keyof typeof FEATURES;

/**
 * Probe features, each in an anonymous network namespace (`unshare --net`) that exists only as long as
 * the probe's one process: nothing is created on the host that could outlive the probe. (A named scratch
 * namespace under /run/netns once outlived its command on a busy machine — `ip netns del` kept failing —
 * and the cluster test caught it as a leak.) Returns the missing ones.
 */
export async function missingFeatures(names: FeatureName[]): Promise<FeatureProbe[]> {
  const missing: FeatureProbe[] = [];
  for (const name of names) {
    const probe = FEATURES[name];
    // The probe's commands share its namespace: one shell runs them all, stopping at the first failure.
    const script = probe.commands.map((cmd) => cmd.map(shellQuote).join(' ')).join(' && ');
    const r = await run(['unshare', '--net', '--', 'sh', '-c', script], { allowFailure: true, timeoutMs: 10_000 });
    if (r.code !== 0) missing.push(probe);
  }
  return missing;
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
