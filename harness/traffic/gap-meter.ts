// The longest forwarding gap of a path, measured directly: a sender in one netns sends a small UDP
// datagram every few milliseconds carrying its sequence number and send time; a receiver in another
// records what arrived. The longest gap is the longest stretch of send time whose datagrams were all
// lost — an outage, measured to the send interval, on the sender's clock (so neither end's scheduling
// jitter reads as an outage, and a path that never comes back counts up to the end of the run).
// Coarse per-interval byte counts cannot do this: a 0.9 s outage split over two 0.5 s intervals leaves
// data in both. Usage (run inside the netns, e.g. through the exec wrapper):
//   node gap-meter.js recv PORT                       prints JSON {received:[[seq,sentMs],…]} on SIGTERM
//   node gap-meter.js send HOST PORT DURATION_MS INTERVAL_MS   prints JSON {sent, lastSentMs, intervalMs}
import dgram from 'node:dgram';
import { pathToFileURL } from 'node:url';

export interface SenderReport {
  sent: number;
  /** Send time of the last datagram, ms after the first. */
  lastSentMs: number;
  intervalMs: number;
}

export interface GapReport {
  /** Longest stretch of send time with nothing delivered, ms. */
  longestGapMs: number;
  /** When it started (send time, ms after the first datagram). */
  atMs: number;
  received: number;
  sent: number;
  lost: number;
}

/** The longest gap: between consecutive delivered datagrams (by send time), before the first one and
 *  after the last one. Nothing delivered at all is a gap over the whole run. */
export function longestGap(received: Array<[number, number]>, sender: SenderReport): GapReport {
  const seen = new Map<number, number>();
  for (const [seq, sentMs] of received) if (Number.isInteger(seq) && seq >= 0 && seq < sender.sent) seen.set(seq, sentMs);
  const times = [...seen.values()].sort((a, b) => a - b);
  const lost = sender.sent - seen.size;
  if (times.length === 0) return { longestGapMs: sender.lastSentMs + sender.intervalMs, atMs: 0, received: 0, sent: sender.sent, lost };
  // A gap between deliveries at t1 and t2 means the path was down for about t2 - t1 (less one interval
  // of normal spacing); leading/trailing gaps are measured against the first/last send.
  let best = { longestGapMs: times[0]!, atMs: 0 };
  for (let i = 1; i < times.length; i++) {
    const g = times[i]! - times[i - 1]! - sender.intervalMs;
    if (g > best.longestGapMs) best = { longestGapMs: g, atMs: times[i - 1]! };
  }
  const trailing = sender.lastSentMs - times[times.length - 1]!;
  if (trailing > best.longestGapMs) best = { longestGapMs: trailing, atMs: times[times.length - 1]! };
  return { longestGapMs: Math.max(0, Math.round(best.longestGapMs)), atMs: Math.round(best.atMs), received: seen.size, sent: sender.sent, lost };
}

/** Parse a receiver's output; throws when it is not the receiver's JSON. */
export function parseReceiverOutput(text: string): Array<[number, number]> {
  const j = JSON.parse(text.trim().split('\n').pop() || '{}') as { received?: unknown };
  if (!Array.isArray(j.received)) throw new Error('gap-meter receiver printed no "received" list');
  return j.received as Array<[number, number]>;
}

export function parseSenderOutput(text: string): SenderReport {
  const j = JSON.parse(text.trim().split('\n').pop() || '{}') as Partial<SenderReport>;
  if (typeof j.sent !== 'number' || typeof j.lastSentMs !== 'number' || typeof j.intervalMs !== 'number') throw new Error('gap-meter sender printed no report');
  return j as SenderReport;
}

function recv(port: number): void {
  const sock = dgram.createSocket('udp4');
  const received: Array<[number, number]> = [];
  sock.on('message', (m) => {
    if (m.length >= 12) received.push([m.readUInt32BE(0), m.readDoubleBE(4)]);
  });
  const finish = () => {
    process.stdout.write(`${JSON.stringify({ received })}\n`, () => process.exit(0));
  };
  process.once('SIGTERM', finish);
  process.once('SIGINT', finish);
  sock.bind(port, '0.0.0.0', () => process.stderr.write(`listening on udp ${port}\n`));
}

function send(host: string, port: number, durationMs: number, intervalMs: number): void {
  const sock = dgram.createSocket('udp4');
  const t0 = performance.now();
  let seq = 0;
  let lastSentMs = 0;
  let pending = 0;
  let finishing = false;
  const finish = () => {
    // Close only once every queued datagram has left: a send still queued at close() is silently lost,
    // which would read as an outage at the very end.
    if (!finishing || pending > 0) return;
    sock.close();
    process.stdout.write(`${JSON.stringify({ sent: seq, lastSentMs: Math.round(lastSentMs), intervalMs } satisfies SenderReport)}\n`);
  };
  const tick = () => {
    // Catch up after a late timer: datagrams are due by the clock and stamped with their due time, so
    // the sender's own scheduling hiccups (a busy 2-core machine) do not read as gaps; only loss does.
    const now = performance.now() - t0;
    while (seq * intervalMs <= now && seq * intervalMs <= durationMs) {
      const buf = Buffer.alloc(12);
      buf.writeUInt32BE(seq, 0);
      buf.writeDoubleBE(seq * intervalMs, 4);
      pending++;
      sock.send(buf, port, host, () => {
        pending--;
        finish();
      });
      lastSentMs = seq * intervalMs;
      seq++;
    }
    if (now > durationMs) {
      clearInterval(timer);
      finishing = true;
      finish();
    }
  };
  const timer = setInterval(tick, Math.max(1, Math.floor(intervalMs / 2)));
  tick();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [mode, ...rest] = process.argv.slice(2);
  if (mode === 'recv') recv(Number(rest[0]));
  else if (mode === 'send') send(rest[0]!, Number(rest[1]), Number(rest[2]), Number(rest[3]));
  else {
    process.stderr.write('usage: gap-meter recv PORT | send HOST PORT DURATION_MS INTERVAL_MS\n');
    process.exitCode = 2;
  }
}
