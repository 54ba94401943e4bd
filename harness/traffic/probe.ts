// Connectivity probes run from inside a pod's netns, each one a real process entered with nsenter
// through the exec wrapper, exactly as a test would `kubectl exec` into a pod:
//   tcp/udp → `agnhost connect HOST:PORT --timeout=… --protocol=…` (netpol e2e semantics)
//   http    → `agnhost cnilab-http-get URL --timeout=…`            (curl exit codes: 0, 22, 28, 7…)
//   icmp    → `ping -c 1 -W SECONDS [-M do -s SIZE] HOST`           (MTU checks with dontFragment)
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../exec/run.js';
import { CnilabError } from '../errors.js';

export type ProbeProtocol = 'tcp' | 'udp' | 'icmp' | 'http';
export type ProbeOutcome = 'ok' | 'timeout' | 'refused' | 'other';

export interface ProbeOptions {
  /** Netns name under /run/netns, or an absolute path to a netns file. */
  netns: string;
  protocol: ProbeProtocol;
  host: string;
  /** Required for tcp, udp and http. */
  port?: number;
  /** The probe's own deadline (agnhost --timeout, ping -W, curl --max-time). Default 1000 ms. */
  timeoutMs?: number;
  /** HTTP path, default "/". */
  path?: string;
  /** ICMP payload size (ping -s). */
  size?: number;
  /** ICMP: set DF and forbid local fragmentation (ping -M do), for path-MTU checks. */
  dontFragment?: boolean;
}

export interface ProbeResult {
  ok: boolean;
  /** The probe command's exit code (agnhost: 0/1; curl-style for http; ping: 0/1/2). */
  exitCode: number;
  outcome: ProbeOutcome;
  durationMs: number;
  stdout: string;
  stderr: string;
  /** The full argv run, nsenter included: pasteable to reproduce by hand. */
  command: string[];
}

/** Extra time the wrapper allows beyond the probe's own deadline (Node start-up, nsenter). */
const WRAPPER_MARGIN_MS = 5000;

let shimPath: string | undefined;
/** bin/pod/agnhost of this checkout, found from this module's location (source or dist/). */
export function agnhostShimPath(): string {
  if (shimPath) return shimPath;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++, dir = dirname(dir)) {
    const candidate = join(dir, 'bin', 'pod', 'agnhost');
    if (existsSync(candidate)) {
      if (!existsSync(join(dir, 'dist', 'harness', 'traffic', 'agnhost', 'main.js'))) {
        throw new CnilabError('NOT_FOUND', `${candidate} needs the compiled sources: run \`npx tsc -p tsconfig.json\` in ${dir}`);
      }
      return (shimPath = candidate);
    }
  }
  throw new CnilabError('NOT_FOUND', 'bin/pod/agnhost not found above ' + fileURLToPath(import.meta.url));
}

/** Go duration text for agnhost flags ("1500ms"). */
function goDuration(ms: number): string {
  return `${Math.max(1, Math.round(ms))}ms`;
}

export function probeCommand(o: ProbeOptions): string[] {
  const timeoutMs = o.timeoutMs ?? 1000;
  const needPort = () => {
    if (o.port === undefined || !Number.isInteger(o.port) || o.port < 1 || o.port > 65535) {
      throw new CnilabError('INVALID_INPUT', `probe ${o.protocol} to ${o.host} needs a port 1-65535`, { exitCode: 2 });
    }
    return o.port;
  };
  const hostPort = (port: number) => (o.host.includes(':') ? `[${o.host}]:${port}` : `${o.host}:${port}`);
  switch (o.protocol) {
    case 'tcp':
    case 'udp':
      return [agnhostShimPath(), 'connect', hostPort(needPort()), `--timeout=${goDuration(timeoutMs)}`, `--protocol=${o.protocol}`];
    case 'http': {
      const path = o.path ?? '/';
      const url = `http://${hostPort(needPort())}${path.startsWith('/') ? path : `/${path}`}`;
      return [agnhostShimPath(), 'cnilab-http-get', url, `--timeout=${goDuration(timeoutMs)}`];
    }
    case 'icmp': {
      // iputils ping accepts fractional -W seconds; it waits that long for the one reply.
      const argv = ['ping', '-n', '-c', '1', '-W', String(Math.max(0.001, timeoutMs / 1000))];
      if (o.dontFragment) argv.push('-M', 'do');
      if (o.size !== undefined) argv.push('-s', String(o.size));
      return [...argv, o.host];
    }
  }
}

/** Classify a finished probe. Pure, so the mapping is unit-tested without root. */
export function classifyProbe(protocol: ProbeProtocol, code: number, stdout: string, stderr: string, wrapperTimedOut: boolean): ProbeOutcome {
  if (wrapperTimedOut) return 'timeout';
  if (code === 0) return 'ok';
  switch (protocol) {
    case 'tcp':
    case 'udp':
      if (/^TIMEOUT\b/m.test(stderr)) return 'timeout';
      if (/^REFUSED\b/m.test(stderr)) return 'refused';
      return 'other';
    case 'http':
      if (code === 28) return 'timeout';
      if (code === 7 && /ECONNREFUSED|refused/i.test(stderr)) return 'refused';
      return 'other';
    case 'icmp':
      // Exit 1 = no reply. An ICMP error (unreachable, frag needed) or a local EMSGSIZE is not a timeout.
      if (code === 1 && !/unreachable|too long|frag needed|error/i.test(stdout + stderr)) return 'timeout';
      return 'other';
  }
}

export async function probe(o: ProbeOptions): Promise<ProbeResult> {
  const argv = probeCommand(o);
  const r = await run(argv, { netns: o.netns, timeoutMs: (o.timeoutMs ?? 1000) + WRAPPER_MARGIN_MS, allowFailure: true });
  const outcome = classifyProbe(o.protocol, r.code, r.stdout, r.stderr, r.timedOut);
  return {
    ok: outcome === 'ok',
    exitCode: r.code,
    outcome,
    durationMs: r.durationMs,
    stdout: r.stdout,
    stderr: r.stderr,
    command: r.argv,
  };
}

/** Run many probes with at most `concurrency` at once; results keep the order of `list`. */
export async function probeMany(list: ProbeOptions[], concurrency = 8): Promise<ProbeResult[]> {
  const results = new Array<ProbeResult>(list.length);
  let next = 0;
  const worker = async () => {
    while (next < list.length) {
      const i = next++;
      results[i] = await probe(list[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, list.length)) }, worker));
  return results;
}
