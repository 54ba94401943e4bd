// Kernel feature probes, made up front in a scratch network namespace so a missing feature is
// reported as "unsupported: X (needs Y)" before anything of a cluster is created.
import { existsSync } from 'node:fs';
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

/** Several clusters may be created at once by one process: each probe gets its own namespace. */
let probeCount = 0;

/** Probe features in one scratch namespace; returns the missing ones. */
export async function missingFeatures(names: FeatureName[]): Promise<FeatureProbe[]> {
  if (names.length === 0) return [];
  // The name carries the cnilab prefix, so `down --all` would sweep it if this process died here.
  const ns = `cnilab.featureprobe.${process.pid}-${++probeCount}`;
  await run(['ip', 'netns', 'add', ns], { timeoutMs: 10_000 });
  const missing: FeatureProbe[] = [];
  try {
    for (const name of names) {
      const probe = FEATURES[name];
      for (const cmd of probe.commands) {
        const r = await run(cmd, { netns: ns, allowFailure: true, timeoutMs: 10_000 });
        if (r.code !== 0) {
          missing.push(probe);
          break;
        }
      }
      // Remove what the probe made so the next probe can reuse the names.
      await run(['ip', 'link', 'del', 'probe0'], { netns: ns, allowFailure: true });
    }
  } finally {
    // A busy machine has seen `ip netns del` fail once and the probe namespace outlive the command
    // (a leak the cluster test caught): try again until it is gone.
    for (let i = 0; i < 10 && existsSync(`/run/netns/${ns}`); i++) {
      if ((await run(['ip', 'netns', 'del', ns], { allowFailure: true })).code === 0) break;
      await new Promise((r) => setTimeout(r, 100 * (i + 1)));
    }
  }
  return missing;
}
