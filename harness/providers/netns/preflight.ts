// Checks made before anything is created: tools present, kernel features there, files built.
// A missing kernel feature is "unsupported: X (needs Y)", never an obscure failure later.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { CnilabError, UnsupportedError } from '../../errors.js';
import type { ClusterSpec } from '../../cluster/spec.js';
import { BPF_BUILD_DIR, distJs, REFERENCE_CNI_DIR } from '../../paths.js';
import { missingFeatures, type FeatureName } from './features.js';

function onPath(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    try {
      accessSync(`${dir}/${cmd}`, constants.X_OK);
      return true;
    } catch {
      /* next */
    }
  }
  return false;
}

function missingTool(tool: string, pkg: string): CnilabError {
  return new CnilabError('UNSUPPORTED', `missing tool: ${tool} (install the Debian package ${pkg}, or run scripts/bootstrap.sh)`, { exitCode: 3 });
}

export function bpffsMounted(): boolean {
  try {
    return readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === '/sys/fs/bpf' && l.split(' ')[2] === 'bpf');
  } catch {
    return false;
  }
}

export async function preflight(spec: ClusterSpec): Promise<void> {
  if (process.getuid?.() !== 0) throw new CnilabError('UNSUPPORTED', 'cnilab must run as root: it creates network namespaces and loads BPF programs', { exitCode: 3 });
  for (const [tool, pkg] of [['ip', 'iproute2'], ['nsenter', 'util-linux'], ['sysctl', 'procps']] as const) {
    if (!onPath(tool)) throw missingTool(tool, pkg);
  }
  if (!existsSync('/proc/sys/net/ipv4')) throw new UnsupportedError('IPv4 networking', 'CONFIG_INET');
  if (spec.cni === 'reference-bridge' || spec.cni === 'kernel') {
    for (const plugin of spec.cni === 'kernel' ? ['ptp', 'host-local'] : ['bridge', 'host-local']) {
      if (!existsSync(`${REFERENCE_CNI_DIR}/${plugin}`)) throw missingTool(`${REFERENCE_CNI_DIR}/${plugin}`, 'containernetworking-plugins');
    }
  }
  if (spec.cni === 'cnilab') {
    if (!existsSync('/proc/sys/kernel/unprivileged_bpf_disabled')) throw new UnsupportedError('eBPF datapath', 'CONFIG_BPF_SYSCALL');
    if (!bpffsMounted()) throw new UnsupportedError('BPF pinning', 'bpffs mounted at /sys/fs/bpf: mount -t bpf bpf /sys/fs/bpf');
    if (!existsSync(`${BPF_BUILD_DIR}/datapath.o`)) throw new CnilabError('UNSUPPORTED', `BPF objects not built (${BPF_BUILD_DIR}/datapath.o missing): run scripts/bootstrap.sh`, { exitCode: 3 });
    if (!existsSync(distJs('agent/main'))) throw new CnilabError('UNSUPPORTED', 'the agent is not built (dist/agent/main.js missing): run scripts/bootstrap.sh', { exitCode: 3 });
    if (spec.routing === 'native' && !onPath('bird')) throw missingTool('bird', 'bird2');
  }
  const needed: FeatureName[] = ['veth', 'bridge'];
  if (spec.routing === 'tunnel') needed.push(spec.tunnelProtocol === 'geneve' ? 'geneve' : 'vxlan');
  if (spec.cni === 'cnilab') needed.push('clsact');
  const missing = await missingFeatures(needed);
  if (missing.length) throw new UnsupportedError(missing.map((m) => m.what).join(', '), missing.map((m) => m.needs).join(', '));
  if (spec.routing === 'tunnel' && spec.tunnelProtocol === 'geneve') {
    // The kernel has Geneve, but no cnilab configuration encapsulates with it yet.
    throw new UnsupportedError('Geneve encapsulation in cnilab', 'a datapath with Geneve support; use tunnelProtocol: vxlan');
  }
}
