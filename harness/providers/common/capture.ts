// Packet captures on a node, the part every provider shares: the tcpdump command, which device is the
// node's underlay (the one carrying the node's address, found through `execOnNode`, so it is the same
// question on the embedded cluster and on a real node whose NIC is ens5 or eth0), reading tcpdump's
// progress from its stderr, and a fixed-length capture made of start + stop.
import { CnilabError } from '../../errors.js';
import { tcpdumpArgv as pcapTcpdumpArgv } from '../../traffic/pcap.js';
import type { CaptureOptions, Provider, ProviderNode, RunningCapture, StartCaptureOptions } from './provider.js';

export { endedEarlyReason } from '../../traffic/pcap.js';

/** The tcpdump command of every provider's capture (harness/traffic/pcap.ts builds it), with the
 *  filter's words as one expression. */
export function tcpdumpArgv(o: StartCaptureOptions, out: string): string[] {
  return pcapTcpdumpArgv({ ...o, filter: o.filter?.length ? o.filter.join(' ') : undefined }, out);
}

/** The part of a stream that ends in a newline: a line still being written is not judged yet. */
const completeLines = (text: string) => text.slice(0, text.lastIndexOf('\n') + 1);

/** What tcpdump has said on stderr so far: listening (it prints this once the socket is bound), or
 *  an error line ("tcpdump: eth9: No such device exists", a filter syntax error). Only whole lines
 *  are errors: tcpdump writes its listening line in pieces (`write(2, "tcpdump: ")`, then `"listening
 *  on eth0"`, …: four write calls on unbuffered stderr), so a reader can see "tcpdump: " alone, and
 *  taking that for an error killed good captures under load (the flaky wire test and bench). */
export function captureProgress(stderr: string): { listening: boolean; error?: string } {
  // With -w, tcpdump prefixes it with its name ("tcpdump: listening on eth0, link-type …").
  if (/^(tcpdump: )?listening on /m.test(stderr)) return { listening: true };
  const err = completeLines(stderr).split('\n').find((l) => /^tcpdump: /.test(l) && !/verbose output suppressed/.test(l));
  return err ? { listening: false, error: err.trim() } : { listening: false };
}

/** The pid a capture's wrapper shell printed before exec'ing tcpdump (kubeconfig provider: how stop()
 *  reaches it, since closing an exec stream does not end the process on a real kubelet). A whole line
 *  only, so a number still being written is never taken. */
export const CAPTURE_PID_MARK = 'cnilab-capture-pid';
export function capturePid(stderr: string): number | undefined {
  const m = new RegExp(`^${CAPTURE_PID_MARK} (\\d+)$`, 'm').exec(completeLines(stderr));
  return m ? Number(m[1]) : undefined;
}

/** The interface that carries `ip` in `ip -j -4 addr show` output; undefined when none does. */
export function deviceWithAddress(ipJson: string, ip: string): string | undefined {
  let links: unknown;
  try {
    links = JSON.parse(ipJson);
  } catch {
    throw new CnilabError('COMMAND_FAILED', `ip -j -4 addr show: not JSON: ${ipJson.slice(0, 120)}`);
  }
  if (!Array.isArray(links)) throw new CnilabError('COMMAND_FAILED', 'ip -j -4 addr show: expected a list of links');
  for (const l of links as Array<{ ifname?: unknown; addr_info?: Array<{ family?: unknown; local?: unknown }> }>) {
    if (typeof l.ifname !== 'string') continue;
    if ((l.addr_info ?? []).some((a) => a.family === 'inet' && a.local === ip)) return l.ifname;
  }
  return undefined;
}

/** The node's underlay device: the one its address (the Node's InternalIP) is on. */
export async function underlayDevice(provider: Provider, node: ProviderNode | { name: string; ip: string }): Promise<string> {
  const r = await provider.execOnNode(node.name, ['ip', '-j', '-4', 'addr', 'show'], { allowFailure: true, timeoutMs: 10_000 });
  if (r.code !== 0) throw new CnilabError('COMMAND_FAILED', `ip -j -4 addr show on node ${node.name} exited with ${r.code}`, { detail: r.stderr.trim() });
  const dev = deviceWithAddress(r.stdout, node.ip);
  if (!dev) throw new CnilabError('COMMAND_FAILED', `no interface on node ${node.name} carries its address ${node.ip}`);
  return dev;
}

/** A fixed-length capture: start, wait, stop (what `Provider.capture` is on every provider). */
export async function captureFor(start: (o: StartCaptureOptions) => Promise<RunningCapture>, o: CaptureOptions): Promise<Buffer> {
  const c = await start({ iface: o.iface ?? 'any', filter: o.filter, maxPackets: o.maxPackets, maxDurationMs: o.durationMs + 10_000 });
  await new Promise((r) => setTimeout(r, o.durationMs));
  return (await c.stop()).pcap;
}
