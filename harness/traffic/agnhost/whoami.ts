// Hidden subcommand `agnhost cnilab-whoami HOST:PORT [--timeout=1s] [--protocol=tcp|udp]`: `connect`
// that also asks who answered. A probe that only connects cannot tell the right pod from a wrong one
// (a datapath delivering to the wrong endpoint, a stale ipcache entry pointing at another node): the
// connection succeeds either way. So on success this prints `RESPONDER: <hostname>` on stdout:
//   tcp: sends `GET /hostname` (netexec's HTTP port) and prints the body; a server that speaks first
//        (serve-hostname --tcp writes its hostname on accept) is read as is;
//   udp: sends `hostname` (agnhost's --udp-data default), and the reply is the server's hostname.
// Failures are printed exactly as `connect` prints them (TIMEOUT, REFUSED, OTHER: …), exit 1. A
// connection that succeeded but told nothing exits 0 without a RESPONDER line: the caller decides
// whether an unnamed answer is good enough (it is not, when a responder is expected).
import net from 'node:net';
import { classifyError, parseConnectArgsOrReport, udpExchange, type ConnectOptions, type ConnectResult } from './connect.js';

export interface WhoamiResult extends ConnectResult {
  responder?: string;
}

/** The responder's name from what a TCP server sent: an HTTP response's body, or raw text. */
export function responderFromTcpReply(raw: string): string | undefined {
  let text = raw;
  if (/^HTTP\/1\.[01] /.test(raw)) {
    const status = Number(raw.slice(9, 12));
    const sep = raw.indexOf('\r\n\r\n');
    if (status !== 200 || sep < 0) return undefined;
    text = raw.slice(sep + 4);
  }
  const name = text.trim().split('\n')[0]?.trim();
  return name ? name : undefined;
}

function whoTcp(o: ConnectOptions): Promise<WhoamiResult> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: o.host, port: o.port });
    const chunks: Buffer[] = [];
    let connected = false;
    let timer: NodeJS.Timeout | undefined;
    const done = (r: WhoamiResult) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const answered = () => ({ code: 0, stderr: '', responder: responderFromTcpReply(Buffer.concat(chunks).toString('utf8')) });
    // One deadline for the whole exchange, as `connect --timeout` bounds the whole probe. Connected but
    // silent at the deadline: the connection did succeed, the responder stays unknown.
    timer = setTimeout(() => done(connected ? answered() : { code: 1, stderr: 'TIMEOUT\n' }), o.timeoutMs > 0 ? o.timeoutMs : 5000);
    sock.once('connect', () => {
      connected = true;
      sock.write(`GET /hostname HTTP/1.0\r\nHost: ${o.host}\r\nConnection: close\r\n\r\n`);
    });
    sock.on('data', (b: Buffer) => chunks.push(b));
    sock.once('end', () => done(answered()));
    sock.once('error', (e: NodeJS.ErrnoException) =>
      done(connected ? answered() : { code: 1, stderr: classifyError(e, `dial tcp ${o.host}:${o.port}: connect`) }),
    );
  });
}

function whoUdp(o: ConnectOptions): Promise<WhoamiResult> {
  return udpExchange<WhoamiResult>(o, 'hostname\n', (msg) => {
    const name = msg.toString('utf8').trim();
    return name ? { code: 0, stderr: '', responder: name } : { code: 1, stderr: 'OTHER: empty reply\n' };
  });
}

export async function whoami(o: ConnectOptions): Promise<WhoamiResult> {
  if (o.protocol === 'tcp' || o.protocol === '') return whoTcp(o);
  if (o.protocol === 'udp') return whoUdp(o);
  return { code: 1, stderr: `UNKNOWN: cnilab-whoami speaks tcp and udp, not ${o.protocol}\n` };
}

export async function whoamiMain(args: string[]): Promise<number> {
  const opts = parseConnectArgsOrReport(args);
  if (!opts) return 1;
  const r = await whoami(opts);
  if (r.responder) process.stdout.write(`RESPONDER: ${r.responder}\n`);
  if (r.stderr) process.stderr.write(r.stderr);
  return r.code;
}
