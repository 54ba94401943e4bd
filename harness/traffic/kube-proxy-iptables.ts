// kube-proxy's iptables mode, generated for the baselines that have no service load balancer of their
// own (the reference bridge, plain veth): the same chains kube-proxy writes — KUBE-SERVICES with one
// rule per service port (linear: a new connection walks it until its ClusterIP matches), a KUBE-SVC-*
// chain per service port picking an endpoint with `statistic --mode random` probabilities, a KUBE-SEP-*
// chain per endpoint doing the DNAT — loaded with iptables-restore into every node's namespace. This is
// the comparison point for cnilab's service scale: its cost grows with the number of services.
import { createHash } from 'node:crypto';
import { run } from '../exec/run.js';

export interface IptablesServicePort {
  namespace: string;
  name: string;
  portName: string;
  protocol: 'TCP' | 'UDP';
  clusterIP: string;
  port: number;
  endpoints: Array<{ ip: string; port: number }>;
}

/** kube-proxy's chain names: prefix + the first 16 characters of base32(sha256(name + protocol)). */
export function chainName(prefix: 'KUBE-SVC-' | 'KUBE-SEP-', key: string, protocol: string): string {
  const digest = createHash('sha256').update(key + protocol).digest();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 16) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= 16) break;
  }
  return `${prefix}${out}`;
}

/** kube-proxy prints probabilities with 11 decimals ("0.33333333349"). */
function probability(n: number): string {
  return (1 / n).toFixed(11);
}

/** The key kube-proxy names a service port's chains by. */
export const servicePortKey = (sp: Pick<IptablesServicePort, 'namespace' | 'name' | 'portName'>) => `${sp.namespace}/${sp.name}${sp.portName ? `:${sp.portName}` : ''}`;

/**
 * The iptables-restore input (nat table, --noflush semantics: our chains are declared and so flushed).
 * `loaded`: service ports whose KUBE-SVC/KUBE-SEP chains are already in the kernel unchanged; their
 * chains are left out, as kube-proxy's minimized restore (MinimizeIPTablesRestore, on by default since
 * 1.27) does, while KUBE-SERVICES is always rewritten whole.
 */
export function kubeProxyRules(ports: IptablesServicePort[], loaded: ReadonlySet<string> = new Set()): string {
  const chains: string[] = [':KUBE-SERVICES - [0:0]', ':KUBE-MARK-MASQ - [0:0]', ':KUBE-POSTROUTING - [0:0]'];
  const rules: string[] = [
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE',
  ];
  for (const sp of ports) {
    const svcPortName = servicePortKey(sp);
    const proto = sp.protocol.toLowerCase();
    const svc = chainName('KUBE-SVC-', svcPortName, proto);
    rules.push(`-A KUBE-SERVICES -d ${sp.clusterIP}/32 -p ${proto} -m comment --comment "${svcPortName} cluster IP" -m ${proto} --dport ${sp.port} -j ${svc}`);
    if (sp.endpoints.length === 0) {
      rules.push(`-A KUBE-SERVICES -d ${sp.clusterIP}/32 -p ${proto} -m comment --comment "${svcPortName} has no endpoints" -m ${proto} --dport ${sp.port} -j REJECT`);
    }
    if (loaded.has(svcPortName)) continue;
    chains.push(`:${svc} - [0:0]`);
    sp.endpoints.forEach((ep, i) => {
      const sep = chainName('KUBE-SEP-', `${svcPortName}:${ep.ip}:${ep.port}`, proto);
      chains.push(`:${sep} - [0:0]`);
      const left = sp.endpoints.length - i;
      const pick = left > 1 ? ` -m statistic --mode random --probability ${probability(left)}` : '';
      rules.push(`-A ${svc} -m comment --comment "${svcPortName} -> ${ep.ip}:${ep.port}"${pick} -j ${sep}`);
      rules.push(`-A ${sep} -s ${ep.ip}/32 -m comment --comment "${svcPortName}" -j KUBE-MARK-MASQ`);
      rules.push(`-A ${sep} -p ${proto} -m comment --comment "${svcPortName}" -m ${proto} -j DNAT --to-destination ${ep.ip}:${ep.port}`);
    });
  }
  return ['*nat', ...chains, ...rules, 'COMMIT', ''].join('\n');
}

/** The jumps from the built-in chains into kube-proxy's, added once per namespace. */
const HOOKS: Array<{ chain: string; comment: string; target: string }> = [
  { chain: 'PREROUTING', comment: 'kubernetes service portals', target: 'KUBE-SERVICES' },
  { chain: 'OUTPUT', comment: 'kubernetes service portals', target: 'KUBE-SERVICES' },
  { chain: 'POSTROUTING', comment: 'kubernetes postrouting rules', target: 'KUBE-POSTROUTING' },
];

/**
 * Which iptables: `system` is what `iptables` points to (Debian 12: iptables-nft); `legacy` and `nft`
 * name the backend. kube-proxy itself uses whichever the node uses (iptables-wrapper detects it).
 */
export type IptablesBackend = 'system' | 'legacy' | 'nft';
const BINARIES: Record<IptablesBackend, { iptables: string; restore: string }> = {
  system: { iptables: 'iptables', restore: 'iptables-restore' },
  legacy: { iptables: 'iptables-legacy', restore: 'iptables-legacy-restore' },
  nft: { iptables: 'iptables-nft', restore: 'iptables-nft-restore' },
};

export interface ApplyKubeProxyOptions {
  backend?: IptablesBackend;
  /** Service ports already loaded unchanged by an earlier call (see kubeProxyRules). */
  loaded?: ReadonlySet<string>;
  /** Bound on the iptables-restore; past it the restore is killed (nothing of it is committed: a
   *  restore is one transaction) and a CommandError with `result.timedOut` is thrown. Default 300 s. */
  timeoutMs?: number;
}

/** Load the rules into a node's namespace (replacing the KUBE-* chains a previous call wrote). */
export async function applyKubeProxyRules(netns: string, ports: IptablesServicePort[], opts: ApplyKubeProxyOptions = {}): Promise<{ ms: number; rules: number }> {
  const bin = BINARIES[opts.backend ?? 'system'];
  const text = kubeProxyRules(ports, opts.loaded);
  const t0 = performance.now();
  await run([bin.restore, '--noflush'], { netns, input: text, timeoutMs: opts.timeoutMs ?? 300_000 });
  for (const h of HOOKS) {
    const rule = ['-m', 'comment', '--comment', h.comment, '-j', h.target];
    const present = await run([bin.iptables, '-t', 'nat', '-C', h.chain, ...rule], { netns, allowFailure: true });
    if (present.code !== 0) await run([bin.iptables, '-t', 'nat', '-I', h.chain, '1', ...rule], { netns });
  }
  return { ms: Math.round(performance.now() - t0), rules: text.split('\n').filter((l) => l.startsWith('-A ')).length };
}
