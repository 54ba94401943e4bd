// Packet capture in a netns with tcpdump (through the exec wrapper), parsed with pcap-parse.ts.
// tcpdump writes each packet as it arrives (-U) with a short snap length (-s 256: enough for
// outer + VXLAN + inner headers), and we wait for its "listening on" line before returning, so a
// probe started after startCapture() resolves is never missed.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { start, shellQuote, type Background } from '../exec/run.js';
import { CnilabError, WaitTimeoutError } from '../errors.js';
import { parsePcap, type CapturedPacket } from './pcap-parse.js';

export { parsePcap, parsePcapFile, effectiveHeaders, VXLAN_PORTS, LINKTYPE } from './pcap-parse.js';
export type { CapturedPacket, PacketHeaders, TcpFlagName, PcapFile } from './pcap-parse.js';

export interface CaptureOptions {
  /** Netns name or path; omit to capture in the current netns. */
  netns?: string;
  /** Interface to capture on ("any" gives Linux cooked frames, which the parser reads too). */
  iface: string;
  /** A pcap-filter expression, e.g. "tcp port 80" (one argv element; never through a shell). */
  filter?: string;
  /** Output file; default a fresh temporary file, removed by stop() unless keepFile. */
  file?: string;
  snaplen?: number;
  /** tcpdump stops after this many packets. */
  maxPackets?: number;
  /** tcpdump ends by itself after this long (`timeout`) if stop() never comes (a crashed run). */
  maxDurationMs?: number;
  /** How long to wait for tcpdump to start listening. Default 10 s. */
  readyTimeoutMs?: number;
  /** Pause before stopping so packets still in flight are written. Default 100 ms. */
  settleMs?: number;
}

export interface CaptureResult {
  file: string;
  /** The file's bytes (classic libpcap format). */
  pcap: Buffer;
  packets: CapturedPacket[];
  /** tcpdump's own summary ("N packets captured … dropped by kernel"). */
  stderr: string;
}

export interface Capture {
  readonly file: string;
  readonly argv: string[];
  /** Stop tcpdump (SIGTERM; it flushes and exits), then read and parse the file. Throws when tcpdump
   *  had ended before (killed, its time limit run out; not its -c count reached): such a file holds
   *  only the start of the traffic and is no evidence of what came after. */
  stop(opts?: { keepFile?: boolean }): Promise<CaptureResult>;
}

/** tcpdump writing a pcap to `out` ('-' is stdout) as packets arrive: -U flushes each one, and
 *  --immediate-mode hands them over at once (without it TPACKET_V3 waits for a ring block or its ~1 s
 *  timeout, and a SIGTERM before that loses them: "0 packets captured"). -Z root: Debian's tcpdump
 *  otherwise drops to a user "tcpdump" that may not exist or may not write `out`'s directory. The
 *  filter is one argv element, never through a shell. */
export function tcpdumpArgv(o: { iface: string; filter?: string; snaplen?: number; maxPackets?: number }, out: string): string[] {
  return [
    'tcpdump', '-i', o.iface, '-w', out, '-U', '--immediate-mode', '-n', '-Z', 'root', '-s', String(o.snaplen ?? 256),
    ...(o.maxPackets ? ['-c', String(o.maxPackets)] : []),
    ...(o.filter ? [o.filter] : []),
  ];
}

export async function startCapture(o: CaptureOptions): Promise<Capture> {
  const tempDir = o.file ? undefined : await mkdtemp(join(tmpdir(), 'cnilab-pcap-'));
  const file = o.file ?? join(tempDir!, 'capture.pcap');
  const tcpdump = tcpdumpArgv(o, file);
  const argv = o.maxDurationMs ? ['timeout', `${Math.ceil(o.maxDurationMs / 1000)}s`, ...tcpdump] : tcpdump;
  const bg: Background = start(argv, { netns: o.netns });
  try {
    await waitListening(bg, o.readyTimeoutMs ?? 10_000);
  } catch (e) {
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
    throw e;
  }
  return {
    file,
    argv: bg.argv,
    async stop(opts = {}) {
      await new Promise((r) => setTimeout(r, o.settleMs ?? 100));
      const early = endedEarly(bg, o);
      if (early) {
        if (tempDir) await rm(tempDir, { recursive: true, force: true });
        throw new CnilabError('COMMAND_FAILED', `${early}: ${shellQuote(bg.argv)}`, { detail: bg.output().stderr.trim() });
      }
      await bg.stop(3000);
      // tcpdump ends with 0 on SIGTERM, after writing its summary; SIGKILL after the grace means it
      // hung, and what it wrote may lack its end.
      if (bg.child.exitCode !== 0) {
        if (tempDir) await rm(tempDir, { recursive: true, force: true });
        const how = bg.child.signalCode ? `killed by ${bg.child.signalCode} after 3 s` : `exited with ${bg.child.exitCode}`;
        throw new CnilabError('COMMAND_FAILED', `tcpdump did not end cleanly when stopped (${how}): ${shellQuote(bg.argv)}`, { detail: bg.output().stderr.trim() });
      }
      const pcap = await readFile(file).catch(() => Buffer.alloc(0));
      const packets = pcap.length >= 24 ? parsePcap(pcap) : [];
      if (tempDir && !opts.keepFile) await rm(tempDir, { recursive: true, force: true });
      return { file, pcap, packets, stderr: bg.output().stderr };
    },
  };
}

/** Why a capture is not evidence when its tcpdump ended before stop() was called: it died (killed,
 *  its exec stream closed, its `timeout` ran out) and saw only the start of the traffic. undefined when
 *  that end is the one asked for (tcpdump's -c count reached: exit 0 with maxPackets). */
export function endedEarlyReason(o: { exitCode?: number; signal?: string | null; detail?: string; maxPackets?: number; maxDurationMs?: number }): string | undefined {
  if (o.exitCode === 0 && !o.signal && o.maxPackets) return undefined;
  const how = o.signal
    ? `killed by ${o.signal}`
    : o.exitCode === 124
      ? `its time limit ran out (timeout, ${Math.ceil((o.maxDurationMs ?? 0) / 1000)} s), exit 124`
      : o.exitCode === undefined
        ? (o.detail ?? 'it ended')
        : `exited with ${o.exitCode}`;
  return `tcpdump ended before the capture was stopped (${how}), so the capture missed what came after`;
}

function endedEarly(bg: Background, o: CaptureOptions): string | undefined {
  const { exitCode, signalCode } = bg.child;
  if (exitCode === null && signalCode === null) return undefined;
  return endedEarlyReason({ exitCode: exitCode ?? undefined, signal: signalCode, maxPackets: o.maxPackets, maxDurationMs: o.maxDurationMs });
}

async function waitListening(bg: Background, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void bg.exited.then(() => (exited = true));
  while (!/listening on/.test(bg.output().stderr)) {
    if (exited) {
      throw new CnilabError('COMMAND_FAILED', `tcpdump exited before capturing: ${shellQuote(bg.argv)}`, {
        detail: bg.output().stderr.trim(),
      });
    }
    if (Date.now() > deadline) {
      await bg.stop();
      throw new WaitTimeoutError(`tcpdump to start listening (${shellQuote(bg.argv)})`, timeoutMs, bg.output().stderr.trim());
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
