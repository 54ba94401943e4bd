// One probe, made by this process from inside a pod's (or node's, or external host's) network
// namespace: the socket is created there (setns around socket(2), see harness/traffic/netns.ts) and
// then driven by Node's event loop, so hundreds of probes can be in flight from one process without
// spawning anything. Every probe binds a source port the caller chose, which is what lets a drop flow
// be tied to exactly this probe. TCP: connect, then read what the server says (serve-hostname writes
// its hostname and closes). UDP: a connected socket sends "hostname\n" and waits for the answer;
// an ICMP port unreachable comes back as ECONNREFUSED.
import dgram from 'node:dgram';
import net from 'node:net';
import { createListeningSocketIn, createSocketIn } from '../../../harness/traffic/netns.js';

export type SocketOutcome = 'answer' | 'refused' | 'timeout' | 'aborted' | 'error';

export interface SocketProbeOptions {
  netns: string;
  protocol: 'TCP' | 'UDP';
  host: string;
  port: number;
  sourcePort: number;
  timeoutMs: number;
  /** Ends the probe early (a drop flow already proved it blocked). */
  signal?: AbortSignal;
}

export interface SocketProbeResult {
  outcome: SocketOutcome;
  /** What the server answered (trimmed), for 'answer'. */
  answer?: string;
  error?: string;
  ms: number;
}

const MAX_ANSWER = 256;

export function socketProbe(o: SocketProbeOptions): Promise<SocketProbeResult> {
  const t0 = performance.now();
  const ms = () => Math.round((performance.now() - t0) * 10) / 10;
  if (o.signal?.aborted) return Promise.resolve({ outcome: 'aborted', ms: 0 });
  return o.protocol === 'TCP' ? tcpProbe(o, ms) : udpProbe(o, ms);
}

function tcpProbe(o: SocketProbeOptions, ms: () => number): Promise<SocketProbeResult> {
  return new Promise((resolve) => {
    let sock: net.Socket;
    try {
      sock = new net.Socket({ fd: createSocketIn(o.netns, 'tcp'), readable: true, writable: true });
    } catch (e) {
      return resolve({ outcome: 'error', error: (e as Error).message, ms: ms() });
    }
    let settled = false;
    let data = '';
    const finish = (r: Omit<SocketProbeResult, 'ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      // A connection left open without an answer is reset, not closed politely: no lingering state.
      if (r.outcome !== 'answer' && !sock.connecting && !sock.destroyed) sock.resetAndDestroy();
      else sock.destroy();
      resolve({ ...r, ms: ms() });
    };
    const onAbort = () => finish({ outcome: 'aborted' });
    const timer = setTimeout(() => finish({ outcome: 'timeout' }), o.timeoutMs);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      data += chunk;
      if (data.length > MAX_ANSWER) finish({ outcome: 'answer', answer: data.slice(0, MAX_ANSWER).trim() });
    });
    sock.on('end', () => finish({ outcome: 'answer', answer: data.trim() }));
    sock.on('error', (e: NodeJS.ErrnoException) => finish(e.code === 'ECONNREFUSED' ? { outcome: 'refused' } : { outcome: 'error', error: e.code ?? e.message }));
    sock.connect({ host: o.host, port: o.port, localAddress: '0.0.0.0', localPort: o.sourcePort });
  });
}

function udpProbe(o: SocketProbeOptions, ms: () => number): Promise<SocketProbeResult> {
  return new Promise((resolve) => {
    let fd: number;
    try {
      fd = createListeningSocketIn(o.netns, { proto: 'udp', port: o.sourcePort });
    } catch (e) {
      return resolve({ outcome: 'error', error: (e as Error).message, ms: ms() });
    }
    const sock = dgram.createSocket('udp4');
    let settled = false;
    const finish = (r: Omit<SocketProbeResult, 'ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      try {
        sock.close();
      } catch {
        /* never bound */
      }
      resolve({ ...r, ms: ms() });
    };
    const onAbort = () => finish({ outcome: 'aborted' });
    const timer = setTimeout(() => finish({ outcome: 'timeout' }), o.timeoutMs);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    sock.on('error', (e: NodeJS.ErrnoException) => finish(e.code === 'ECONNREFUSED' ? { outcome: 'refused' } : { outcome: 'error', error: e.code ?? e.message }));
    sock.on('message', (msg) => finish({ outcome: 'answer', answer: msg.toString('utf8', 0, Math.min(msg.length, MAX_ANSWER)).trim() }));
    sock.bind({ fd }, () => {
      sock.connect(o.port, o.host, (err?: Error) => {
        if (err) return finish({ outcome: 'error', error: err.message });
        sock.send('hostname\n', (e) => e && finish({ outcome: 'error', error: e.message }));
      });
    });
  });
}
