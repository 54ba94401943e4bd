// pods/exec over WebSocket, the Kubernetes remote-command protocol: subprotocol v5.channel.k8s.io
// or v4.channel.k8s.io; every binary message starts with a channel byte (0 stdin, 1 stdout,
// 2 stderr, 3 error: a v1 Status when the command ends, 4 resize), and v5 adds 255: "close this
// channel" (the client's end of stdin). The command runs in the pod's network namespace (its node's for
// a hostNetwork pod) with the pod tools (agnhost) first on PATH, as `cnilab exec` runs it. No TTY:
// tty=true is refused.
import { spawn, type ChildProcess } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { KubeObject } from '../objects.js';
import { podHostname, podNetnsName } from '../pod-netns.js';
import { POD_BIN_DIR } from '../../paths.js';
import { killGroup } from '../../exec/run.js';
import { ApiError, badRequest } from './status.js';

export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;
const CH = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

/** The container an exec or log request means: the named one, or the only one. */
export function pickContainer(pod: KubeObject, requested: string | null): string {
  const names = ((pod.spec as { containers?: Array<{ name: string }> })?.containers ?? []).map((c) => c.name);
  if (requested) {
    if (!names.includes(requested)) throw badRequest(`container ${requested} is not valid for pod ${pod.metadata.name}`);
    return requested;
  }
  if (names.length !== 1) throw badRequest(`a container name must be specified for pod ${pod.metadata.name}, choose one of: [${names.join(' ')}]`);
  return names[0]!;
}

function exitStatus(code: number, argv: string[]): Record<string, unknown> {
  if (code === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${argv.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

export function execHandler(cluster: string) {
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered) => EXEC_PROTOCOLS.find((p) => offered.has(p)) ?? false,
  });
  return (req: IncomingMessage, socket: Duplex, head: Buffer, pod: KubeObject, params: URLSearchParams): void => {
    const argv = params.getAll('command');
    if (argv.length === 0) throw badRequest('you must specify at least 1 command');
    if (params.get('tty') === 'true' || params.get('tty') === '1') throw badRequest('tty is not supported by the embedded runtime (no terminal in pods); run without -t');
    const container = pickContainer(pod, params.get('container'));
    const phase = (pod.status as { phase?: string } | undefined)?.phase;
    if (phase !== 'Running') throw badRequest(`unable to upgrade connection: pod ${pod.metadata.namespace}/${pod.metadata.name} is ${phase ?? 'Pending'}, not Running (container ${container})`);
    const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
    if (!EXEC_PROTOCOLS.some((p) => offered.includes(p))) {
      throw new ApiError(400, 'BadRequest', `unable to upgrade connection: none of the offered subprotocols [${offered.join(', ')}] is served (${EXEC_PROTOCOLS.join(', ')})`);
    }
    const want = (k: string, dflt: boolean) => (params.has(k) ? ['true', '1'].includes(params.get(k)!) : dflt);
    const streams = { stdin: want('stdin', false), stdout: want('stdout', true), stderr: want('stderr', true) };
    wss.handleUpgrade(req, socket, head, (ws) => run(ws, cluster, pod, argv, streams));
  };
}

function run(ws: WebSocket, cluster: string, pod: KubeObject, argv: string[], streams: { stdin: boolean; stdout: boolean; stderr: boolean }): void {
  const v5 = ws.protocol === 'v5.channel.k8s.io';
  const send = (ch: number, data: Buffer | string) => {
    if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([ch]), Buffer.isBuffer(data) ? data : Buffer.from(data)]));
  };
  const netns = `/run/netns/${podNetnsName(cluster, pod)}`;
  let child: ChildProcess;
  try {
    child = spawn('nsenter', [`--net=${netns}`, '--', ...argv], {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PATH: `${POD_BIN_DIR}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`, HOSTNAME: podHostname(pod) },
    });
  } catch (e) {
    send(CH.error, JSON.stringify({ metadata: {}, status: 'Failure', message: (e as Error).message, reason: 'InternalError' }));
    return void ws.close(1000);
  }
  child.stdin!.on('error', () => undefined);
  if (!streams.stdin) child.stdin!.end();
  child.stdout!.on('data', (b: Buffer) => streams.stdout && send(CH.stdout, b));
  child.stderr!.on('data', (b: Buffer) => streams.stderr && send(CH.stderr, b));
  let finished = false;
  child.on('error', (e) => {
    finished = true;
    send(CH.error, JSON.stringify({ metadata: {}, status: 'Failure', message: e.message, reason: 'InternalError' }));
    ws.close(1000);
  });
  child.on('close', (code, signal) => {
    if (finished) return;
    finished = true;
    send(CH.error, JSON.stringify(exitStatus(code ?? 128 + (signal ? 9 : 0), argv)));
    ws.close(1000);
  });
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const buf = isBinary ? data : Buffer.from(data.toString(), 'utf8');
    if (buf.length === 0) return;
    const ch = buf[0]!;
    if (ch === CH.stdin && streams.stdin && buf.length > 1) child.stdin!.write(buf.subarray(1));
    else if (v5 && ch === CH.close && buf[1] === CH.stdin) child.stdin!.end();
    // CH.resize: no terminal, nothing to resize.
  });
  ws.on('close', () => {
    if (!finished) killGroup(child, 500);
  });
}
