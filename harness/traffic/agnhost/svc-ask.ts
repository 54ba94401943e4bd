// Hidden subcommand `agnhost cnilab-svc-ask [--count=N] [--timeout=1s] TARGET`: the services
// scenario's probes (harness/traffic/service-probe.ts) made from inside the pod this runs in, for a
// provider that reaches pods only by exec (kubeconfig). Each exchange is a new connection (or datagram)
// as the in-process probes make them from the pod's namespace, one after the other:
//   tcp:HOST:PORT/PATH[,PATH...]  HTTP GET of PATH (HTTP/1.0); several paths are pipelined over ONE
//                                 connection (the backend that answered and what it saw, one flow)
//   udp:HOST:PORT                 `hostname` from an unconnected socket; the reply and its source
// One JSON line per exchange on stdout, a ServiceAnswer: {ok, answer, bodies?, peer, error?, failure?,
// ms}. peer is getpeername (TCP) or the reply's source (UDP): the service when the reverse translation
// works. Exit 0 when the lines were written (whatever the network answered), 1 on bad usage.
import { httpGet, httpGetAll, udpAsk, type ServiceAnswer } from '../service-probe.js';

export interface SvcAskTarget {
  protocol: 'tcp' | 'udp';
  host: string;
  port: number;
  paths: string[];
}

const MAX_COUNT = 100;

/** The target of a command line, or why it is not one. */
export function parseSvcTarget(text: string): SvcAskTarget | string {
  const m = /^(tcp|udp):(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})(\/.*)?$/.exec(text);
  if (!m) return `target ${JSON.stringify(text)} is not tcp:IPV4:PORT/PATH[,PATH...] or udp:IPV4:PORT`;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return `port ${port} out of range`;
  if (m[1] === 'udp') return m[4] ? 'a udp target takes no path' : { protocol: 'udp', host: m[2]!, port, paths: [] };
  const paths = (m[4] ?? '/').split(',').map((p) => (p.startsWith('/') ? p : `/${p}`));
  if (paths.some((p) => /[\s\r\n]/.test(p))) return 'a path must not contain white space';
  return { protocol: 'tcp', host: m[2]!, port, paths };
}

/** `count` exchanges with the target, one after the other, from this process's network namespace. */
export async function svcAsk(t: SvcAskTarget, count: number, timeoutMs: number): Promise<ServiceAnswer[]> {
  const out: ServiceAnswer[] = [];
  for (let i = 0; i < count; i++) {
    if (t.protocol === 'udp') out.push(await udpAsk('', t.host, t.port, 'hostname', timeoutMs));
    else if (t.paths.length === 1) out.push(await httpGet('', t.host, t.port, t.paths[0]!, timeoutMs));
    else out.push(await httpGetAll('', t.host, t.port, t.paths, timeoutMs));
  }
  return out;
}

function durationMs(v: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(v);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * (m[2] === 's' ? 1000 : 1));
}

export async function svcAskMain(args: string[]): Promise<number> {
  let count = 1;
  let timeoutMs = 1000;
  const targets: string[] = [];
  for (const a of args) {
    const [flag, value = ''] = a.split('=', 2) as [string, string?];
    if (flag === '--count') {
      count = Number(value);
      if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) return usage(`--count: expected 1 to ${MAX_COUNT}, got ${JSON.stringify(value)}`);
    } else if (flag === '--timeout') {
      const ms = durationMs(value);
      if (ms === undefined || ms < 1 || ms > 60_000) return usage(`--timeout: expected a duration like 1s or 500ms (at most 60s), got ${JSON.stringify(value)}`);
      timeoutMs = ms;
    } else if (a.startsWith('--')) return usage(`unknown flag ${flag}`);
    else targets.push(a);
  }
  if (targets.length !== 1) return usage('expected exactly one target');
  const t = parseSvcTarget(targets[0]!);
  if (typeof t === 'string') return usage(t);
  const answers = await svcAsk(t, count, timeoutMs);
  process.stdout.write(answers.map((x) => JSON.stringify(x)).join('\n') + '\n');
  return 0;
}

function usage(why: string): number {
  process.stderr.write(`UNKNOWN: ${why}\nusage: agnhost cnilab-svc-ask [--count=N] [--timeout=1s] tcp:IP:PORT/PATH[,PATH...]|udp:IP:PORT\n`);
  return 1;
}
