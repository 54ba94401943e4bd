// Explains the client resets of an lb-modes-bench --capture DIR run, one by one:
//   node dist/bench/lb-reset-explain.js DIR [--max 20]
// For every RST the client pod sent: its connection as the client saw it (ClusterIP or pod IP, SYN
// sequence number and TCP timestamp), the same SYN in the server pod (matched by its sequence number,
// which no translation rewrites) with the backend tuple it arrived on and what the backend answered, the
// previous connection the backend had on that tuple (which address the client had given it, so which
// timestamp clock, and its last timestamp), whether the retransmitted SYN took the same backend tuple, and
// what node1's maps held for these tuples after the sample (lb-capture.ts). Reads files; needs tcpdump.
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { run } from '../harness/exec/run.js';

interface Pkt {
  t: number;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  flags: string;
  seq?: number;
  ack?: number;
  tsval?: number;
}

const LINE = /^(\d+\.\d+) IP (\d+\.\d+\.\d+\.\d+)\.(\d+) > (\d+\.\d+\.\d+\.\d+)\.(\d+): Flags \[([^\]]*)\](.*)$/;

async function readPcap(file: string): Promise<Pkt[]> {
  const r = await run(['tcpdump', '-r', file, '-nn', '-tt', '-S'], { allowFailure: true, timeoutMs: 600_000 });
  const out: Pkt[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const rest = m[7]!;
    const seq = /, seq (\d+)/.exec(rest);
    const ack = /, ack (\d+)/.exec(rest);
    const ts = /TS val (\d+)/.exec(rest);
    out.push({
      t: Number(m[1]), src: m[2]!, sport: Number(m[3]), dst: m[4]!, dport: Number(m[5]), flags: m[6]!,
      ...(seq ? { seq: Number(seq[1]) } : {}), ...(ack ? { ack: Number(ack[1]) } : {}), ...(ts ? { tsval: Number(ts[1]) } : {}),
    });
  }
  return out;
}

const tupleOf = (p: Pkt, fromClient: boolean) => (fromClient ? `${p.src}:${p.sport}>${p.dst}:${p.dport}` : `${p.dst}:${p.dport}>${p.src}:${p.sport}`);
const isSyn = (p: Pkt) => p.flags === 'S';

// ---- bpftool -j map dumps: raw bytes ----
type Entry = { key: Buffer; value: Buffer };
function readMap(file: string): Entry[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8').trim();
  if (!text) return [];
  const bytes = (a: string[]) => Buffer.from(a.map((x) => parseInt(x, 16)));
  return (JSON.parse(text) as Array<{ key: string[]; value: string[] }>).map((e) => ({ key: bytes(e.key), value: bytes(e.value) }));
}
const ip = (b: Buffer, o: number) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
const keyStr = (k: Buffer) => `${ip(k, 0)}:${k.readUInt16BE(8)}>${ip(k, 4)}:${k.readUInt16BE(10)}`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { max: { type: 'string' } } });
  const dir = positionals[0];
  if (!dir) throw new Error('usage: lb-reset-explain DIR [--max N]');
  const meta = JSON.parse(readFileSync(`${dir}/samples.json`, 'utf8')) as {
    clusterIp: string; server: string; client: string; windows: Array<{ round: number; mode: string; start: number; end: number }>;
  };
  const client = await readPcap(`${dir}/client.pcap`);
  const server = await readPcap(`${dir}/server.pcap`);
  const windowOf = (t: number) => meta.windows.find((w) => t >= w.start - 0.5 && t <= w.end + 0.5);
  // Every SYN seen by the server, by sequence number; every server-side packet, by backend tuple.
  const serverSyn = new Map<number, Pkt[]>();
  const byBackendTuple = new Map<string, Pkt[]>();
  for (const p of server) {
    const fromClient = p.src === meta.client;
    const k = tupleOf(p, fromClient);
    (byBackendTuple.get(k) ?? byBackendTuple.set(k, []).get(k)!).push(p);
    if (fromClient && isSyn(p) && p.seq !== undefined) (serverSyn.get(p.seq) ?? serverSyn.set(p.seq, []).get(p.seq)!).push(p);
  }
  const clientSynBySeq = new Map<number, Pkt>();
  const byClientTuple = new Map<string, Pkt[]>();
  for (const p of client) {
    const fromClient = p.src === meta.client;
    const k = tupleOf(p, fromClient);
    (byClientTuple.get(k) ?? byClientTuple.set(k, []).get(k)!).push(p);
    if (fromClient && isSyn(p) && p.seq !== undefined && !clientSynBySeq.has(p.seq)) clientSynBySeq.set(p.seq, p);
  }
  const resets = client.filter((p) => p.src === meta.client && p.flags.includes('R'));
  const perMode = new Map<string, number>();
  for (const r of resets) {
    const w = windowOf(r.t);
    const k = w ? `round ${w.round} ${w.mode}` : 'outside a CRR sample';
    perMode.set(k, (perMode.get(k) ?? 0) + 1);
  }
  console.log(`${client.length} client-side and ${server.length} server-side packets; ${resets.length} client resets`);
  for (const [k, n] of perMode) console.log(`  ${k}: ${n}`);
  const summary = { otherTupleOlderTs: 0, sameClientTuple: 0, noPrevious: 0, moved: 0, unmoved: 0, retransSameTuple: 0, retransOtherTuple: 0 };
  let shown = 0;
  for (const r of resets) {
    const ct = tupleOf(r, true);
    const conv = byClientTuple.get(ct) ?? [];
    const syn = [...conv].reverse().find((p) => p.t <= r.t && p.src === meta.client && isSyn(p));
    if (!syn || syn.seq === undefined) continue;
    const answer = conv.find((p) => p.t >= syn.t && p.t <= r.t && p.src !== meta.client);
    const retrans = conv.find((p) => p.t > r.t && p.src === meta.client && isSyn(p));
    const sSyns = serverSyn.get(syn.seq) ?? [];
    const sFirst = sSyns.find((p) => p.t >= syn.t - 0.01) ?? sSyns[0];
    const lines: string[] = [];
    const w = windowOf(r.t);
    lines.push(`reset at ${r.t.toFixed(6)} (${w ? `round ${w.round} ${w.mode}` : 'no sample'}): client ${ct} (${r.dst === meta.clusterIp ? 'ClusterIP' : 'pod IP'})`);
    lines.push(`  client SYN seq ${syn.seq} TS ${syn.tsval}; answer [${answer?.flags}] ack ${answer?.ack}; retransmitted SYN ${retrans ? `+${((retrans.t - r.t) * 1000).toFixed(1)} ms, seq ${retrans.seq === syn.seq ? 'same' : retrans.seq}` : 'none in capture'}`);
    if (!sFirst) {
      lines.push('  the SYN never reached the server pod (or tcpdump dropped it)');
    } else {
      const bt = tupleOf(sFirst, true);
      const moved = sFirst.sport !== syn.sport;
      if (moved) summary.moved++;
      else summary.unmoved++;
      const onTuple = byBackendTuple.get(bt) ?? [];
      const sAnswer = onTuple.find((p) => p.t >= sFirst.t && p.src !== meta.client);
      lines.push(`  at the backend: ${bt}${moved ? ` (source port moved ${syn.sport} -> ${sFirst.sport})` : ' (source port kept)'}; backend answered [${sAnswer?.flags}] ack ${sAnswer?.ack}`);
      // The previous connection on the backend tuple: the last client packet before this SYN with another ISN.
      const before = onTuple.filter((p) => p.t < sFirst.t && p.src === meta.client);
      const prevSyn = [...before].reverse().find((p) => isSyn(p) && p.seq !== syn.seq);
      if (!prevSyn) {
        summary.noPrevious++;
        lines.push('  no earlier connection on this backend tuple in the capture');
      } else {
        const prevLast = [...before].reverse().find((p) => p.t >= prevSyn.t && p.tsval !== undefined);
        const origin = prevSyn.seq !== undefined ? clientSynBySeq.get(prevSyn.seq) : undefined;
        // The client's kernel keys a connection's timestamp offset by its 4-tuple: the same client tuple
        // means the same clock, any other an unrelated one.
        const via = origin ? (origin.dst === meta.clusterIp ? 'ClusterIP' : 'pod IP') : 'unknown';
        const sameTuple = origin !== undefined && tupleOf(origin, true) === ct;
        const older = prevLast?.tsval !== undefined && syn.tsval !== undefined && ((syn.tsval - prevLast.tsval) | 0) <= 0;
        if (sameTuple) summary.sameClientTuple++;
        else if (older) summary.otherTupleOlderTs++;
        const pw = origin ? windowOf(origin.t) : undefined;
        lines.push(`  previous connection on it: SYN ${(sFirst.t - prevSyn.t).toFixed(3)} s earlier, from client ${origin ? tupleOf(origin, true) : '?'} (via ${via}, ${sameTuple ? 'the SAME client tuple' : 'another client tuple'}${pw ? `, round ${pw.round} ${pw.mode}` : ''}), last TS ${prevLast?.tsval} vs new SYN TS ${syn.tsval}${older ? ': the new SYN is OLDER (TIME_WAIT answers with an ACK)' : ''}`);
        const tag = w ? `r${w.round}-${w.mode.replace(/ /g, '-')}` : '';
        if (tag) {
          const ctMap = readMap(`${dir}/${tag}-node1-cnilab_ct.json`);
          const fwd = readMap(`${dir}/${tag}-node1-cnilab_lb_fwd.json`);
          const rev = readMap(`${dir}/${tag}-node1-cnilab_lb_rev.json`);
          const ctHas = ctMap.find((e) => keyStr(e.key) === bt);
          const revHas = rev.find((e) => keyStr(e.key) === `${sFirst.dst}:${sFirst.dport}>${sFirst.src}:${sFirst.sport}`);
          const fwdHas = fwd.find((e) => keyStr(e.key) === ct);
          lines.push(`  node1 after the sample (${ctMap.length} ct, ${fwd.length} fwd, ${rev.length} rev): ct[backend tuple] ${ctHas ? `flags 0x${ctHas.value[52]!.toString(16)}` : 'absent'}; rev[backend tuple] ${revHas ? `frontend ${ip(revHas.value, 0)}:${revHas.value.readUInt16BE(8)} client port ${revHas.value.readUInt16BE(10)} flags 0x${revHas.value[14]!.toString(16)}` : 'absent'}; fwd[client tuple] ${fwdHas ? `nat port ${fwdHas.value.readUInt16BE(8)} flags 0x${fwdHas.value[12]!.toString(16)}` : 'absent'}`);
        }
      }
      if (retrans && retrans.seq !== undefined) {
        const again = (serverSyn.get(retrans.seq) ?? []).filter((p) => p.t > r.t);
        const t2 = again[0] ? tupleOf(again[0], true) : undefined;
        if (t2 === bt) summary.retransSameTuple++;
        else if (t2) summary.retransOtherTuple++;
        lines.push(`  retransmitted SYN at the backend: ${t2 ?? 'not seen'}${t2 && t2 !== bt ? ' (ANOTHER tuple than the first SYN)' : ''}`);
      }
    }
    if (shown++ < Number(values.max ?? 20)) console.log(lines.join('\n'));
  }
  // The summary counts every reset; the lines above show only the first --max (20) of them.
  console.log(`summary over all ${resets.length} resets (details above for the first ${Math.min(shown, Number(values.max ?? 20))}): ${JSON.stringify(summary)}`);
}

main().catch((e) => {
  process.stderr.write(`lb-reset-explain: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
