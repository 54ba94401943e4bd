// The agent as a workload: the Helm chart rendered by cnilab (structure, privileges, mounts, RBAC, the
// seed's values), the template subset, the install-cni step and the image's Dockerfile.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../exec/run.js';
import { REPO_ROOT } from '../paths.js';
import { InvalidInputError } from '../errors.js';
import { loadValues, renderChart } from './chart.js';
import { renderTemplate, TemplateError } from './helm-template.js';
import { parseAgentConfig } from '../../agent/config.js';

const find = (docs: ReturnType<typeof renderChart>, kind: string, name?: string) => docs.find((d) => d.object.kind === kind && (!name || d.object.metadata.name === name))?.object;

describe('Helm chart deploy/helm/cnilab rendered', () => {
  const docs = renderChart();
  const ds = find(docs, 'DaemonSet')!;
  const pod = ds.spec.template.spec;
  const agent = pod.containers.find((c: { name: string }) => c.name === 'agent');

  it('renders the agent, its RBAC, its config and Hubble', () => {
    expect(docs.map((d) => `${d.object.kind}/${d.object.metadata.name}`).sort()).toEqual([
      'ClusterRole/cnilab-agent',
      'ClusterRoleBinding/cnilab-agent',
      'ConfigMap/cnilab-config',
      'DaemonSet/cnilab-agent',
      'Deployment/hubble-relay',
      'Deployment/hubble-ui',
      'Service/hubble-metrics',
      'Service/hubble-relay',
      'Service/hubble-ui',
      'ServiceAccount/cnilab-agent',
    ]);
    for (const d of docs) if (!['ClusterRole', 'ClusterRoleBinding'].includes(d.object.kind)) expect(d.object.metadata.namespace, d.source).toBe('kube-system');
  });

  it('runs the agent privileged in the node\'s network namespace, under its service account', () => {
    expect(pod.hostNetwork).toBe(true);
    expect(agent.securityContext.privileged).toBe(true);
    expect(pod.serviceAccountName).toBe(find(docs, 'ServiceAccount')!.metadata.name);
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(agent.env).toContainEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    expect(ds.spec.selector.matchLabels).toEqual(ds.spec.template.metadata.labels);
  });

  it('mounts bpffs, /opt/cni/bin and /etc/cni/net.d from the host', () => {
    const hostPaths = Object.fromEntries(pod.volumes.filter((v: any) => v.hostPath).map((v: any) => [v.name, v.hostPath.path]));
    expect(hostPaths).toMatchObject({ 'bpf-maps': '/sys/fs/bpf', 'cni-path': '/opt/cni/bin', 'etc-cni-netd': '/etc/cni/net.d' });
    const mounts = Object.fromEntries(agent.volumeMounts.map((m: any) => [m.name, m]));
    expect(mounts['bpf-maps']).toMatchObject({ mountPath: '/sys/fs/bpf', mountPropagation: 'HostToContainer' });
    expect(mounts['cni-path'].mountPath).toBe('/host/opt/cni/bin');
    expect(mounts['etc-cni-netd'].mountPath).toBe('/host/etc/cni/net.d');
  });

  it('starts the agent with its config file from the ConfigMap, which the agent accepts, and nothing else', () => {
    const cm = find(docs, 'ConfigMap')!;
    const mount = agent.volumeMounts.find((m: any) => m.name === 'config');
    expect(agent.args).toEqual(['--config=/etc/cnilab/agent-config.yaml', '--cnilab-cluster=cnilab']);
    expect(mount.mountPath).toBe('/etc/cnilab');
    const cfg = parseAgentConfig(cm.data['agent-config.yaml'], 'agent-config.yaml', { NODE_NAME: 'worker1' });
    expect(cfg).toMatchObject({ cluster: 'cnilab', nodeName: 'worker1', kubeconfig: 'in-cluster', routingMode: 'tunnel', clusterPoolIPv4CIDR: '198.19.0.0/16', underlayDevice: 'eth0', agentSocket: '/var/run/cnilab/agent.sock' });
    // Its pod CIDR and node IP come from the Node object, as Cilium's Kubernetes IPAM.
    expect(cfg.podCIDR).toBeUndefined();
    expect(cfg.nodeIP).toBeUndefined();
    const native = renderChart({ set: { routingMode: 'native', 'bgp.peerAddress': '10.0.0.1' } });
    const nativeCfg = parseAgentConfig(find(native, 'ConfigMap')!.data['agent-config.yaml'], 'agent-config.yaml', { NODE_NAME: 'worker1' });
    expect(nativeCfg).toMatchObject({ routingMode: 'native', bgp: { peerAddress: '10.0.0.1', asn: 64512 } });
  });

  it('has the init steps: bpffs mount (privileged, bidirectional) and the CNI install', () => {
    const [mount, install] = pod.initContainers;
    expect(mount.name).toBe('mount-bpf-fs');
    expect(mount.securityContext.privileged).toBe(true);
    expect(mount.volumeMounts[0]).toMatchObject({ mountPath: '/sys/fs/bpf', mountPropagation: 'Bidirectional' });
    expect(mount.command.join(' ')).toContain('mount -t bpf bpf /sys/fs/bpf');
    expect(install.name).toBe('install-cni');
    expect(install.command).toEqual(['/opt/cnilab/scripts/install-cni.sh']);
    expect(install.volumeMounts.map((m: any) => m.mountPath)).toEqual(expect.arrayContaining(['/host/opt/cni/bin', '/host/etc/cni/net.d']));
  });

  it('gives the service account what the agent watches and publishes, nothing cluster-admin', () => {
    const role = find(docs, 'ClusterRole')!;
    const can = (group: string, resource: string, verb: string) => role.rules.some((r: any) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
    for (const r of ['pods', 'namespaces', 'nodes', 'services']) expect(can('', r, 'watch'), r).toBe(true);
    expect(can('networking.k8s.io', 'networkpolicies', 'watch')).toBe(true);
    expect(can('cilium.io', 'ciliumendpoints', 'create')).toBe(true);
    expect(can('', 'pods', 'delete')).toBe(false);
    expect(role.rules.some((r: any) => r.resources.includes('*') || r.verbs.includes('*'))).toBe(false);
    const binding = find(docs, 'ClusterRoleBinding')!;
    expect(binding.roleRef.name).toBe(role.metadata.name);
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'cnilab-agent', namespace: 'kube-system' }]);
  });

  it('mirrors the seed\'s values: tunnel, kubeProxyReplacement strict, Hubble on :4244 with its metrics, relay and a NodePort UI', () => {
    const v = loadValues() as any;
    expect(v).toMatchObject({ routingMode: 'tunnel', tunnelProtocol: 'vxlan', kubeProxyReplacement: 'strict', devices: 'eth0', containerRuntime: { integration: 'containerd' } });
    expect(v.hubble).toMatchObject({ enabled: true, listenAddress: ':4244', relay: { enabled: true }, ui: { enabled: true, service: { type: 'NodePort' } } });
    expect(v.hubble.metrics.enabled).toEqual(['dns', 'drop', 'tcp', 'flow', 'port-distribution', 'icmp', 'http']);
    const cm = find(docs, 'ConfigMap')!.data;
    expect(cm).toMatchObject({ 'routing-mode': 'tunnel', 'kube-proxy-replacement': 'strict', 'hubble-listen-address': ':4244', 'hubble-metrics': 'dns drop tcp flow port-distribution icmp http' });
    expect(agent.ports).toContainEqual({ name: 'hubble-grpc', containerPort: 4244, hostPort: 4244, protocol: 'TCP' });
    expect(find(docs, 'Service', 'hubble-ui')!.spec).toMatchObject({ type: 'NodePort', ports: [{ nodePort: 31234 }] });
    const conflist = JSON.parse(cm['05-cnilab.conflist']);
    expect(conflist).toEqual({ cniVersion: '1.0.0', name: 'cnilab', plugins: [{ type: 'cnilab', agentSocket: '/var/run/cnilab/agent.sock' }] });
  });

  it('switches to native routing with its BGP peer, and refuses native without one', () => {
    const native = renderChart({ set: { routingMode: 'native', 'bgp.peerAddress': '10.0.0.1' } });
    expect(find(native, 'ConfigMap')!.data).toMatchObject({ 'routing-mode': 'native', 'bgp-peer-address': '10.0.0.1', 'bgp-asn': '64512' });
    expect(find(docs, 'ConfigMap')!.data['bgp-peer-address']).toBeUndefined();
    expect(() => renderChart({ set: { routingMode: 'native' } })).toThrow(/bgp.peerAddress/);
    expect(() => renderChart({ set: { routingMode: 'bgp' } })).toThrow(/routingMode: expected tunnel or native/);
  });

  it('leaves Hubble relay and UI out when disabled; a typo or a wrong type in --set is an error naming it', () => {
    const bare = renderChart({ set: { 'hubble.relay.enabled': 'false', 'hubble.ui.enabled': 'false' } });
    expect(bare.some((d) => /hubble-(relay|ui)/.test(d.object.metadata.name))).toBe(false);
    expect(() => renderChart({ set: { 'hubble.relay.enabeld': 'false' } })).toThrow(InvalidInputError);
    expect(() => renderChart({ set: { 'hubble.enabled': '"yes"' } })).toThrow(/expected a boolean/);
    const ns = renderChart({ namespace: 'cnilab-system', releaseName: 'lab' });
    expect(find(ns, 'DaemonSet')!.metadata).toMatchObject({ name: 'lab-agent', namespace: 'cnilab-system' });
  });
});

describe('the template subset', () => {
  const ctx = { Values: { a: { b: 'x', list: ['p', 'q'], on: true, off: false, m: { k: 1 } } }, Release: { Name: 'r', Namespace: 'n' }, Chart: { Name: 'c', Version: '1' } };
  it('renders values, pipelines, conditionals and trim markers as Helm does', () => {
    expect(renderTemplate('v={{ .Values.a.b | quote }} n={{ .Release.Name }}', ctx)).toBe('v="x" n=r');
    expect(renderTemplate('l:\n  {{- toYaml .Values.a.m | nindent 2 }}\n', ctx)).toBe('l:\n  k: 1\n');
    expect(renderTemplate('{{- if .Values.a.off }}A{{- else if .Values.a.on }}B{{- else }}C{{- end }}', ctx)).toBe('B');
    expect(renderTemplate('{{ if eq .Values.a.b "x" }}yes{{ end }}|{{ join "," .Values.a.list }}|{{ default "d" .Values.a.none }}', ctx)).toBe('yes|p,q|d');
  });
  it('refuses what it does not render instead of printing nothing', () => {
    expect(() => renderTemplate('{{ range .Values.a.list }}x{{ end }}', ctx)).toThrow(TemplateError);
    expect(() => renderTemplate('{{ include "x" . }}', ctx)).toThrow(/outside the template subset/);
    expect(() => renderTemplate('{{ if .Values.a.on }}x', ctx)).toThrow(/no \{\{ end \}\}/);
    expect(() => renderTemplate('{{ upper .Values.a.b }}', ctx)).toThrow(/not a function/);
  });
});

describe('install-cni step and image', () => {
  it('installs the plugin and the conflist atomically into the node\'s CNI directories', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cnilab-install-cni-'));
    try {
      const conf = join(dir, 'config');
      await run(['mkdir', '-p', conf]);
      writeFileSync(join(conf, '05-cnilab.conflist'), find(renderChart(), 'ConfigMap')!.data['05-cnilab.conflist']);
      if (!statSync(join(REPO_ROOT, 'bin/cni/cnilab'), { throwIfNoEntry: false })) await run(['make', '-s', '-C', join(REPO_ROOT, 'agent/cni/shim'), 'CC=clang']);
      const env = { CNI_BIN_DIR: join(dir, 'bin'), CNI_CONF_DIR: join(dir, 'net.d'), CNILAB_CONFIG_DIR: conf, CNILAB_PLUGIN: join(REPO_ROOT, 'bin/cni/cnilab') };
      await run(['sh', join(REPO_ROOT, 'deploy/install-cni.sh')], { env });
      expect(statSync(join(dir, 'bin/cnilab')).mode & 0o111).toBeTruthy();
      expect(JSON.parse(readFileSync(join(dir, 'net.d/05-cnilab.conflist'), 'utf8')).plugins[0].type).toBe('cnilab');
      // The installed plugin alone answers VERSION (no Node.js next to it on a node).
      const v = await run([join(dir, 'bin/cnilab')], { env: { CNI_COMMAND: 'VERSION' }, input: '{"cniVersion":"1.0.0"}' });
      expect(JSON.parse(v.stdout).supportedVersions).toContain('1.0.0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('builds the image on Debian with the agent, its C libraries, the BPF objects, the CNI plugin and bird2', () => {
    const df = readFileSync(join(REPO_ROOT, 'deploy/Dockerfile'), 'utf8');
    const from = [...df.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(from.every((f) => /bookworm/.test(f!))).toBe(true);
    expect(df).toMatch(/apt-get install[^\n]*\bbird2\b/);
    expect(df).toMatch(/apt-get install[^\n]*\biproute2\b/);
    expect(df).toMatch(/apt-get install[^\n]*\blibmnl0\b/);
    // The agent finds its koffi libraries at agent/datapath/native/build beside dist/ (native-lib.ts).
    for (const copied of ['/src/dist', '/src/bpf/build', '/src/agent/datapath/native/build ./agent/datapath/native/build', '/src/bin', 'install-cni.sh']) expect(df).toContain(copied);
    expect(df).toContain('make -s -C agent/datapath/native');
    expect(df).toContain('make -s -C agent/cni/shim');
    expect(df).toContain('make -s -C bpf');
  });
});
