// The wire scenario (what the underlay carries) through two providers on one embedded cluster: the
// netns provider (tcpdump in the node namespaces) and the kubeconfig provider on the cluster's own
// kubeconfig (tcpdump in a privileged host-network helper pod per node, the pcap streamed back over
// WebSocket exec). Same verdicts both ways on a healthy tunnel cluster; then a cluster whose datapath
// is broken on purpose in two ways at once (the VNI carries identity + 1, and pod → other node leaves
// bare: the wrong-vni and remote-node-bare mutations of `cnilab selftest`), where both providers must
// fail the same wire checks.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../harness/exec/run.js';
import { paths } from '../../harness/cluster/names.js';
import { resolveSpec, type ClusterSpec } from '../../harness/cluster/spec.js';
import { createCluster, destroyCluster } from '../../harness/providers/netns/cluster.js';
import { NetnsProvider } from '../../harness/providers/netns/provider.js';
import { KubeconfigProvider } from '../../harness/providers/kubeconfig/provider.js';
import { HELPER_NAMESPACE } from '../../harness/providers/kubeconfig/helper-pod.js';
import { REPO_ROOT } from '../../harness/paths.js';
import type { CheckResult, ConfigurationResult } from '../../reports/model.js';
import { runThroughProvider } from '../framework/provider-run.js';
import type { Suite } from '../framework/model.js';
import { wireScenario } from './wire.js';

const HEALTHY = 'wire-prv';
const BROKEN = 'wire-prvm';
const suite: Suite = { name: 'connectivity', scenarios: [wireScenario] };
let buildDir: string;

const wireChecks = (cfg: ConfigurationResult): CheckResult[] => cfg.suites.flatMap((s) => s.scenarios).find((s) => s.name === 'wire')?.checks ?? [];
const verdicts = (cfg: ConfigurationResult) => Object.fromEntries(wireChecks(cfg).map((c) => [c.id, c.verdict]));
const failures = (cfg: ConfigurationResult) => wireChecks(cfg).filter((c) => !c.passed).map((c) => `${c.id}: ${c.observed}${c.detail ? ` [${c.detail}]` : ''}`);

/** The wire scenario through both providers on cluster `name`; the helper pods removed afterwards. */
async function throughBoth(name: string, spec: ClusterSpec): Promise<{ viaNetns: ConfigurationResult; viaKube: ConfigurationResult }> {
  const viaNetns = await runThroughProvider(new NetnsProvider(name), [suite], { name, spec });
  const kube = new KubeconfigProvider(paths.kubeconfig(name));
  try {
    // As `cnilab run --provider kubeconfig --routing tunnel --pod-mtu N` reads the cluster: nodes,
    // addresses and pod CIDRs through the API.
    const viaKube = await runThroughProvider(kube, [suite], { name, podMtu: spec.podMtu, routing: 'tunnel' });
    return { viaNetns, viaKube };
  } finally {
    await kube.destroy();
  }
}

describe('the wire scenario through the netns and kubeconfig providers', () => {
  beforeAll(async () => {
    await run(['npx', 'tsc', '-p', 'tsconfig.json'], { cwd: REPO_ROOT, allowFailure: true, timeoutMs: 120_000 });
    // Both mutations in one object, built from the same sources with the catalogue's two macros.
    buildDir = mkdtempSync(join(tmpdir(), 'wire-prv-bpf-'));
    await run(['make', '-s', '-C', join(REPO_ROOT, 'bpf'), `OUT=${buildDir}`, 'MUTANTS=datapath-mut-wire', 'DEFS_datapath-mut-wire=-DCNILAB_MUT_WRONG_VNI -DCNILAB_MUT_REMOTE_NODE_BARE', `${buildDir}/datapath-mut-wire.o`], { timeoutMs: 120_000 });
    await destroyCluster(HEALTHY);
    await destroyCluster(BROKEN);
  }, 240_000);
  afterAll(async () => {
    await destroyCluster(HEALTHY);
    await destroyCluster(BROKEN);
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  }, 60_000);

  it('gives every wire check the same verdict both ways, all passing, the captures through the helper pods', async () => {
    const spec = resolveSpec({}, 'test', { name: HEALTHY, nodes: 3, cni: 'cnilab', routing: 'tunnel' });
    await createCluster(spec);
    try {
      const { viaNetns, viaKube } = await throughBoth(HEALTHY, spec);
      expect(viaNetns.error).toBeUndefined();
      expect(viaKube.error).toBeUndefined();
      expect(failures(viaNetns)).toEqual([]);
      expect(failures(viaKube)).toEqual([]);
      const ids = Object.keys(verdicts(viaNetns));
      // 6 probes, VXLAN, no bare pod IPs, 2 VNIs, pod → node through the tunnel, same node off the wire.
      expect(ids.sort()).toEqual(['no-bare-pod-ips', 'pod-to-node-tunnelled', 'probe-1', 'probe-2', 'probe-3', 'probe-4', 'probe-5', 'probe-6', 'same-node-off-wire', 'vni-conn-node1-a', 'vni-conn-node2-a', 'vxlan-encapsulated'].map((id) => `wire/${id}`).sort());
      expect(verdicts(viaKube), `netns: ${failures(viaNetns).join('; ')} | kubeconfig: ${failures(viaKube).join('; ')}`).toEqual(verdicts(viaNetns));
      // The evidence really came through each provider: tcpdump on the nodes' eth0, in the node
      // namespace one way and in the helper pod (exec) the other; probes through exec.
      const kv = wireChecks(viaKube).find((c) => c.id === 'wire/vxlan-encapsulated')!;
      expect(kv.command).toMatch(new RegExp(`^on node1: kubectl-exec ${HELPER_NAMESPACE}/cnilab-node-node1 -- .*tcpdump -i eth0 -w -`));
      expect(wireChecks(viaNetns).find((c) => c.id === 'wire/vxlan-encapsulated')!.command).toMatch(/^on node1: .*tcpdump -i eth0 -w \/run\/cnilab\//);
      expect(wireChecks(viaKube).find((c) => c.id === 'wire/probe-1')!.command).toMatch(/^kubectl-exec /);
      expect(kv.observed).toMatch(/^[1-9]\d* forward, [1-9]\d* reverse/);
      // A capture whose tcpdump dies under it (killed here on purpose) is an error saying so when it is
      // stopped, through both providers: never a shorter pcap taken as evidence.
      for (const provider of [new NetnsProvider(HEALTHY), new KubeconfigProvider(paths.kubeconfig(HEALTHY))]) {
        const cap = await provider.startCapture('node1', { iface: 'eth0', filter: ['udp', 'port', '47999'] });
        const mine = async () => (await run(['pgrep', '-f', '^tcpdump .*udp port 47999$'], { allowFailure: true })).stdout.trim().split('\n').filter(Boolean).map(Number);
        const pids = await mine();
        expect(pids, `${provider.kind}: its tcpdump`).toHaveLength(1);
        process.kill(pids[0]!, 'SIGKILL');
        for (const end = Date.now() + 20_000; (await mine()).length && Date.now() < end; ) await new Promise((res) => setTimeout(res, 100));
        await expect(cap.stop(), provider.kind).rejects.toThrow(/tcpdump (ended before the capture was stopped|did not end cleanly when stopped) \((killed by SIGKILL|exited with 137|command terminated with non-zero exit code.*137)/);
        if (provider instanceof KubeconfigProvider) await provider.destroy();
      }
      // Nothing of the captures stays: no helper pods, no tcpdump left in the nodes.
      const left = await run(['pgrep', '-f', `tcpdump -i eth0 -w`], { allowFailure: true });
      expect(left.stdout.trim(), 'a tcpdump outlived its capture').toBe('');
      const kube = new KubeconfigProvider(paths.kubeconfig(HEALTHY));
      const deadline = Date.now() + 20_000;
      while ((await kube.pods(HELPER_NAMESPACE)).length && Date.now() < deadline) await new Promise((res) => setTimeout(res, 200));
      expect(await kube.pods(HELPER_NAMESPACE)).toEqual([]);
    } finally {
      await destroyCluster(HEALTHY);
    }
  }, 240_000);

  it('fails the same wire checks through both when the VNI is wrong and pod → node traffic leaves bare', async () => {
    const spec = resolveSpec({}, 'test', { name: BROKEN, nodes: 3, cni: 'cnilab', routing: 'tunnel' });
    await createCluster(spec, { env: { CNILAB_BPF_OBJECT: `${buildDir}/datapath-mut-wire.o` } });
    const { viaNetns, viaKube } = await throughBoth(BROKEN, spec);
    expect(viaNetns.error).toBeUndefined();
    expect(viaKube.error).toBeUndefined();
    expect(verdicts(viaKube), `netns: ${failures(viaNetns).join('; ')} | kubeconfig: ${failures(viaKube).join('; ')}`).toEqual(verdicts(viaNetns));
    const failed = wireChecks(viaKube).filter((c) => !c.passed).map((c) => c.id).sort();
    // The VNI is identity + 1 both ways; the pod's ping to node2 leaves bare with its pod IP.
    expect(failed).toEqual(['no-bare-pod-ips', 'pod-to-node-tunnelled', 'vni-conn-node1-a', 'vni-conn-node2-a'].map((id) => `wire/${id}`));
    expect(wireChecks(viaKube).filter((c) => !c.passed).every((c) => c.verdict === 'fail')).toBe(true);
    // Traffic itself still flows (the wire is what is wrong), and pod → pod is still VXLAN.
    expect(wireChecks(viaKube).filter((c) => c.id.startsWith('wire/probe-') || c.id === 'wire/vxlan-encapsulated').every((c) => c.passed)).toBe(true);
  }, 240_000);
});
