// The scenarios' side of the provider interface, with a provider that records what it is asked: probes
// run the same command as `probe` with the pod's own agnhost and are judged the same way; a command
// the provider cannot run at all is a tool error, never a network answer; setup waits for its pods.
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../harness/exec/run.js';
import type { Provider, ProviderPod } from '../../harness/providers/common/provider.js';
import { agentApiUnavailable, applyThrough, execThrough, probeThrough, resolvedPods } from './provider-access.js';
import { nodeSpecs, specFromProvider } from './provider-run.js';

function fakeProvider(answer: (where: string, argv: string[]) => Partial<RunResult> | Error, pods: ProviderPod[] = []): Provider & { calls: string[] } {
  const calls: string[] = [];
  const exec = async (where: string, argv: string[]): Promise<RunResult> => {
    calls.push(`${where}: ${argv.join(' ')}`);
    const a = answer(where, argv);
    if (a instanceof Error) throw a;
    return { argv: ['exec', where, ...argv], code: 0, signal: null, stdout: '', stderr: '', durationMs: 3, timedOut: false, ...a };
  };
  return {
    kind: 'kubeconfig',
    calls,
    create: async () => undefined,
    nodes: async () => [],
    execOnNode: (node, argv) => exec(`node/${node}`, argv),
    execInPod: (ns, pod, argv) => exec(`${ns}/${pod}`, argv),
    apply: async (o) => o,
    pods: async () => pods,
    waitPodsReady: async (ns) => pods.filter((p) => !ns || p.namespace === ns),
    capture: async () => Buffer.alloc(0),
    startCapture: async () => ({ command: 'tcpdump', stop: async () => ({ pcap: Buffer.alloc(0), packets: [], stderr: '' }) }),
    cni: async () => 'calico',
    collectLogs: async () => [],
    destroy: async () => undefined,
  };
}

const pod = (name: string, extra: Partial<ProviderPod> = {}): ProviderPod => ({ namespace: 'ns', name, node: 'n1', ip: '10.0.0.1', phase: 'Running', labels: {}, ...extra });

describe('probes through a provider', () => {
  it('runs agnhost from the pod PATH and reads who answered', async () => {
    const p = fakeProvider(() => ({ stdout: 'RESPONDER: web-1\n' }));
    const r = await probeThrough(p, { pod: { namespace: 'ns', name: 'a' } }, { protocol: 'tcp', host: '10.0.0.9', port: 80, identify: true });
    expect(p.calls).toEqual(['ns/a: agnhost cnilab-whoami 10.0.0.9:80 --timeout=1000ms --protocol=tcp']);
    expect(r).toMatchObject({ ok: true, outcome: 'ok', responder: 'web-1' });
  });

  it('classifies the network answer as `probe` does, from a node too', async () => {
    const p = fakeProvider(() => ({ code: 1, stderr: 'REFUSED\n' }));
    const r = await probeThrough(p, { node: 'n2' }, { protocol: 'tcp', host: '10.0.0.9', port: 9 });
    expect(p.calls[0]).toMatch(/^node\/n2: agnhost connect/);
    expect(r).toMatchObject({ ok: false, outcome: 'refused', failure: 'RST' });
  });

  it('makes an exec the provider could not run a tool error, not a timeout or a refusal', async () => {
    const p = fakeProvider(() => new Error('HTTP 404: pods "a" not found'));
    const r = await probeThrough(p, { pod: { namespace: 'ns', name: 'a' } }, { protocol: 'icmp', host: '10.0.0.9' });
    expect(r.outcome).toBe('tool-error');
    expect(r.stderr).toContain('not found');
    const e = await execThrough(p, { node: 'n1' }, ['ip', 'link']);
    expect(e.code).toBe(127);
  });

  it('treats a provider-side wrapper timeout as a tool error', async () => {
    const p = fakeProvider(() => ({ code: 124, timedOut: true }));
    expect((await probeThrough(p, { pod: { namespace: 'ns', name: 'a' } }, { protocol: 'udp', host: '10.0.0.9', port: 53 })).outcome).toBe('tool-error');
  });
});

describe('setup and pods through a provider', () => {
  it('waits for the pods it applied and names the ones that never ran', async () => {
    const p = fakeProvider(() => ({}), [pod('a')]);
    await expect(applyThrough(p, [{ kind: 'Pod', metadata: { namespace: 'ns', name: 'a' } }], 1000)).resolves.toBeUndefined();
    await expect(applyThrough(p, [{ kind: 'Pod', metadata: { namespace: 'ns', name: 'a' } }, { kind: 'Pod', metadata: { namespace: 'ns', name: 'b' } }], 1000)).rejects.toThrow(/ns\/b/);
  });

  it('resolves Running pods with an address, host-network ones in their node namespace', async () => {
    const p = fakeProvider(() => ({}), [pod('a'), pod('pending', { phase: 'Pending', ip: '' }), pod('host', { ip: '198.18.0.11', hostNetwork: true })]);
    const pods = await resolvedPods(p, { name: 'c1' });
    expect([...pods.keys()]).toEqual(['ns/a', 'ns/host']);
    expect(pods.get('ns/a')!.netns).toMatch(/pod/);
    expect(pods.get('ns/host')!.netns).toMatch(/node/);
  });

  it('says the agent API is out of reach anywhere but the embedded cluster', () => {
    expect(agentApiUnavailable({})).toBeUndefined();
    expect(agentApiUnavailable({ provider: fakeProvider(() => ({})) })).toMatch(/kubeconfig provider/);
  });
});

describe('a spec read through a provider', () => {
  it('orders nodes by name, derives gateways, and calls only cnilab cnilab', () => {
    const nodes = [
      { name: 'node10', ip: '10.1.0.10', podCidr: '10.244.9.0/24' },
      { name: 'node2', ip: '10.1.0.2', podCidr: '10.244.1.0/24' },
    ];
    expect(nodeSpecs(nodes).map((n) => [n.name, n.index, n.podGateway])).toEqual([
      ['node2', 0, '10.244.1.1'],
      ['node10', 1, '10.244.9.1'],
    ]);
    expect(specFromProvider(nodes, 'cnilab (embedded: …)', { name: 'k' }).cni).toBe('cnilab');
    expect(specFromProvider(nodes, 'calico', { name: 'k', podMtu: 1480 })).toMatchObject({ cni: 'kernel', podMtu: 1480 });
    expect(specFromProvider(nodes, 'cilium', { name: 'k' }).podMtu).toBe(0);
  });
});
