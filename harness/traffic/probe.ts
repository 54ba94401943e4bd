// Connectivity probes run from inside a pod's netns, each one a real process entered with nsenter
// through the exec wrapper, exactly as a test would `kubectl exec` into a pod:
//   tcp/udp → `agnhost connect HOST:PORT --timeout=… --protocol=…` (netpol e2e semantics), or with
//             `identify`, `agnhost cnilab-whoami …`, which also names the responder (its hostname)
//   http    → `agnhost cnilab-http-get URL --timeout=…`            (curl exit codes: 0, 22, 28, 7…)
//   icmp    → `ping -c 1 -W SECONDS [-M do -s SIZE] HOST`           (MTU checks with dontFragment)
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../exec/run.js';
import { CnilabError } from '../errors.js';
import { harnessFault } from '../faults.js';
import { pool } from '../../lib/pool.js';

export type ProbeProtocol = 'tcp' | 'udp' | 'icmp' | 'http';
/** ok / timeout / refused / other (the network said no in another way: unreachable, reset, HTTP
 *  error) — or tool-error: the probe itself failed (killed by the wrapper's timeout, not runnable,
 *  crashed, unintelligible output), which says nothing about the network and satisfies no expectation. */
export type ProbeOutcome = 'ok' | 'timeout' | 'refused' | 'other' | 'tool-error';

/** How exactly a probe failed, read from the tool's own words: what fault checks compare with the
 *  failure they expect (a withdrawn route must give ENETUNREACH / ICMP net unreachable, not "any error"). */
export type FailureMode =
  | 'TIMEOUT'
  | 'RST'
  | 'ENETUNREACH'
  | 'EHOSTUNREACH'
  | 'ICMP_NET_UNREACHABLE'
  | 'ICMP_HOST_UNREACHABLE'
  | 'ICMP_PORT_UNREACHABLE'
  | 'FRAG_NEEDED'
  | 'HTTP_ERROR'
  | 'OTHER';

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
  /** tcp/udp: ask the responder its name (cnilab-whoami), so the verdict can check who answered. */
  identify?: boolean;
  /** The agnhost to run: default this checkout's bin/pod/agnhost; "agnhost" where the pod's PATH has it
   *  (a command run through a provider's exec, in a pod or on a node). */
  agnhost?: string;
}

export interface ProbeResult {
  ok: boolean;
  /** The probe command's exit code (agnhost: 0/1; curl-style for http; ping: 0/1/2). */
  exitCode: number;
  outcome: ProbeOutcome;
  /** Set when the probe failed: the failure as the tool reported it. */
  failure?: FailureMode;
  /** Who answered: the server's hostname (tcp/udp with `identify`, http GET /hostname), or the
   *  address an ICMP echo reply came from. Undefined when the probe could not tell. */
  responder?: string;
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
      return [o.agnhost ?? agnhostShimPath(), o.identify ? 'cnilab-whoami' : 'connect', hostPort(needPort()), `--timeout=${goDuration(timeoutMs)}`, `--protocol=${o.protocol}`];
    case 'http': {
      const path = o.path ?? '/';
      const url = `http://${hostPort(needPort())}${path.startsWith('/') ? path : `/${path}`}`;
      return [o.agnhost ?? agnhostShimPath(), 'cnilab-http-get', url, `--timeout=${goDuration(timeoutMs)}`];
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

/** Exit codes no probe tool gives for a network answer: not runnable (126/127), killed by a signal
 *  (128+N, which is also how a crashed Node.js process ends). */
function toolFailed(code: number): boolean {
  return code === 126 || code === 127 || code >= 128;
}

/** Classify a finished probe. Pure, so the mapping is unit-tested without root. A wrapper timeout is
 *  the tool hanging past its own deadline, not the network timing out: it is a tool error. */
export function classifyProbe(protocol: ProbeProtocol, code: number, stdout: string, stderr: string, wrapperTimedOut: boolean): ProbeOutcome {
  if (wrapperTimedOut || toolFailed(code)) return 'tool-error';
  if (code === 0) return 'ok';
  switch (protocol) {
    case 'tcp':
    case 'udp':
      // agnhost's contract: exit 1 and one of its fixed prefixes. Anything else (a stack trace, exit 2)
      // is the tool breaking, not the network answering.
      if (code !== 1) return 'tool-error';
      if (/^TIMEOUT\b/m.test(stderr)) return 'timeout';
      if (/^REFUSED\b/m.test(stderr)) return 'refused';
      if (/^(OTHER|DNS): /m.test(stderr)) return 'other';
      return 'tool-error';
    case 'http':
      if (code === 28) return 'timeout';
      if (code === 7 && /ECONNREFUSED|refused/i.test(stderr)) return 'refused';
      if ([6, 7, 22, 52, 56].includes(code)) return 'other';
      return 'tool-error';
    case 'icmp':
      // Exit 1 = no reply. An ICMP error (unreachable, frag needed) or a local EMSGSIZE is not a timeout.
      if (code === 1 && !/unreachable|too long|frag needed|error/i.test(stdout + stderr)) return 'timeout';
      if (code === 1 || code === 2) return 'other';
      return 'tool-error';
  }
}

/** The failure as the tool worded it; undefined for a success or a tool error. */
export function failureMode(protocol: ProbeProtocol, outcome: ProbeOutcome, stdout: string, stderr: string): FailureMode | undefined {
  if (outcome === 'ok' || outcome === 'tool-error') return undefined;
  if (outcome === 'timeout') return 'TIMEOUT';
  const text = `${stdout}\n${stderr}`;
  if (outcome === 'refused') return protocol === 'udp' ? 'ICMP_PORT_UNREACHABLE' : 'RST';
  if (protocol === 'icmp') {
    if (/Destination Net Unreachable/i.test(text)) return 'ICMP_NET_UNREACHABLE';
    if (/Destination Host Unreachable/i.test(text)) return 'ICMP_HOST_UNREACHABLE';
    if (/Frag needed|message too long|too long/i.test(text)) return 'FRAG_NEEDED';
  }
  if (/network is unreachable/i.test(text)) return 'ENETUNREACH';
  if (/no route to host/i.test(text)) return 'EHOSTUNREACH';
  if (/connection reset/i.test(text)) return 'RST';
  if (protocol === 'http' && /\(22\)/.test(text)) return 'HTTP_ERROR';
  return 'OTHER';
}

/** Who answered a successful probe, from its output (see ProbeResult.responder). */
export function responderOf(o: Pick<ProbeOptions, 'protocol' | 'path' | 'identify'>, stdout: string): string | undefined {
  switch (o.protocol) {
    case 'tcp':
    case 'udp':
      return /^RESPONDER: (.+)$/m.exec(stdout)?.[1]?.trim() || undefined;
    case 'http':
      return o.path === '/hostname' ? stdout.trim() || undefined : undefined;
    case 'icmp':
      return /bytes from ([0-9a-f.:]+)/i.exec(stdout)?.[1]?.replace(/:$/, '');
  }
}

export async function probe(o: ProbeOptions): Promise<ProbeResult> {
  const argv = probeCommand(o);
  const r = await run(argv, { netns: o.netns, timeoutMs: probeWrapperTimeoutMs(o), allowFailure: true });
  return probeResultOf(o, r);
}

/** How long whoever runs a probe's command lets it run before calling it a tool error. */
export function probeWrapperTimeoutMs(o: Pick<ProbeOptions, 'timeoutMs'>): number {
  return (o.timeoutMs ?? 1000) + WRAPPER_MARGIN_MS;
}

/** A probe's result from its command's run, wherever that ran (nsenter here, a provider's exec). */
export function probeResultOf(o: ProbeOptions, r: { code: number; stdout: string; stderr: string; timedOut: boolean; durationMs: number; argv: string[] }): ProbeResult {
  let outcome = classifyProbe(o.protocol, r.code, r.stdout, r.stderr, r.timedOut);
  // Mutation testing only (harness/faults.ts): the harness misreading a failure as a success.
  if ((outcome === 'timeout' && harnessFault('probe-timeout-is-ok')) || (outcome === 'refused' && harnessFault('probe-refused-is-ok'))) outcome = 'ok';
  const failure = failureMode(o.protocol, outcome, r.stdout, r.stderr);
  const responder = outcome === 'ok' ? responderOf(o, r.stdout) : undefined;
  return {
    ok: outcome === 'ok',
    exitCode: outcome === 'ok' ? 0 : r.code,
    outcome,
    ...(failure ? { failure } : {}),
    ...(responder ? { responder } : {}),
    durationMs: r.durationMs,
    stdout: r.stdout,
    stderr: r.stderr,
    command: r.argv,
  };
}

/** Run many probes with at most `concurrency` at once; results keep the order of `list`. */
export function probeMany(list: ProbeOptions[], concurrency = 8): Promise<ProbeResult[]> {
  return pool(list, concurrency, (o) => probe(o));
}
