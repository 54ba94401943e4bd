// The agent's side of the observer: it builds the Observer from the cluster's hubble settings, feeds it
// the datapath's record batches, turns the datapath's lost-event counters into LostEvents, names the
// interfaces flows were seen on, and adds the agent's own metrics (events read and lost, ingest and
// decode time, map sizes, the datapath's per-reason drop counters).
import { readFileSync, writeFileSync } from 'node:fs';
import { encodeEvent } from '../datapath/codec.js';
import type { Datapath } from '../datapath/types.js';
import type { HubbleConfig } from '../../lib/hubble-config.js';
import type { EndpointResolver, ServiceResolver } from './flow.js';
import { makeKtimeToDate } from './flow.js';
import { dropReasonName } from './names.js';
import { Observer } from './observer.js';

export interface NodeObserverOptions {
  nodeName: string;
  config: HubbleConfig;
  datapath: Datapath;
  resolve: EndpointResolver;
  /** The Service behind a datapath service id, when the agent load-balances. */
  service?: ServiceResolver;
  /** Names of local endpoint devices by ifindex (lxc…). */
  endpointIfname: (ifindex: number) => string | undefined;
  /** All links of the node (ip -j link), read at start and when an unknown ifindex shows up. */
  listLinks: () => Promise<Array<{ ifindex: number; ifname: string }>>;
  log: (m: string) => void;
  /** Where the per-CPU lost-event counts already reported are kept across agent restarts. */
  lostStateFile?: string;
}

/** How often the datapath's lost-event counters are compared with what was already reported. */
const LOST_POLL_MS = 250;
/** An unknown ifindex refreshes the link list at most this often. */
const LINK_REFRESH_MS = 5000;
const UNTIL_CHECK_MS = 500;

export class NodeObserver {
  readonly observer: Observer;
  private readonly links = new Map<number, string>();
  private lastLinkRefresh = 0;
  private lostSeen: bigint[] | undefined;
  private timers: NodeJS.Timeout[] = [];
  private stopReader?: () => void;

  constructor(private readonly o: NodeObserverOptions) {
    this.observer = new Observer({
      nodeName: o.nodeName,
      capacity: o.config.eventBufferCapacity,
      metrics: o.config.metrics,
      l7Visibility: o.config.l7Visibility,
      resolve: o.resolve,
      service: o.service,
      ifname: (i) => this.ifname(i),
      toDate: makeKtimeToDate(),
    });
    this.registerAgentMetrics();
  }

  private ifname(ifindex: number): string | undefined {
    const ep = this.o.endpointIfname(ifindex);
    if (ep) return ep;
    const known = this.links.get(ifindex);
    if (known === undefined && Date.now() - this.lastLinkRefresh > LINK_REFRESH_MS) void this.refreshLinks();
    return known;
  }

  private async refreshLinks(): Promise<void> {
    this.lastLinkRefresh = Date.now();
    try {
      for (const l of await this.o.listLinks()) this.links.set(l.ifindex, l.ifname);
    } catch (e) {
      this.o.log(`observer: listing links: ${(e as Error).message}`);
    }
  }

  async start(): Promise<void> {
    await this.refreshLinks();
    const dp = this.o.datapath;
    // hubble.enabled false: the datapath reports drops and policy verdicts only (the observer's cost
    // off, for comparison); no payload is copied either.
    const cfg = this.o.config;
    dp.setObserverConfig?.({ traces: cfg.enabled, monitorAggregation: cfg.monitorAggregation, l7Ports: cfg.enabled ? cfg.l7Visibility : [] });
    if (dp.onEventBatches) this.stopReader = dp.onEventBatches((batch, bytes) => this.observer.ingestBatch(batch, bytes));
    else this.stopReader = dp.onEvents((ev) => this.observer.ingestEvent(ev, encodeEvent));
    if (dp.lostEventsPerCpu) {
      // Losses from before this agent started (while none was running, or not yet reported by the
      // previous agent) are reported once, as LostEvents: they happened, and nobody has shown them.
      this.lostSeen = this.loadReportedLost();
      this.pollLost();
      this.timers.push(setInterval(() => this.pollLost(), LOST_POLL_MS));
    }
    this.timers.push(setInterval(() => this.observer.expireFollowers(), UNTIL_CHECK_MS));
    for (const t of this.timers) t.unref();
  }

  private pollLost(): void {
    try {
      const now = this.o.datapath.lostEventsPerCpu!();
      now.forEach((n, cpu) => {
        const before = this.lostSeen?.[cpu] ?? 0n;
        if (n > before) this.observer.noteLost('PERF_EVENT_RING_BUFFER', Number(n - before), cpu);
      });
      const changed = now.some((n, i) => n !== (this.lostSeen?.[i] ?? 0n));
      this.lostSeen = now;
      if (changed && this.o.lostStateFile) writeFileSync(this.o.lostStateFile, JSON.stringify(now.map(String)));
    } catch (e) {
      this.o.log(`observer: reading lost events: ${(e as Error).message}`);
    }
  }

  private loadReportedLost(): bigint[] {
    try {
      return (JSON.parse(readFileSync(this.o.lostStateFile ?? '', 'utf8')) as string[]).map((x) => BigInt(x));
    } catch {
      return [];
    }
  }

  private registerAgentMetrics(): void {
    const m = this.observer.metrics;
    const st = this.observer.stats;
    const set = (c: { reset(): void; inc(l: Record<string, string>, v: number): void }, v: number, labels: Record<string, string> = {}) => {
      if (v > 0) c.inc(labels, v);
    };
    m.counter('cnilab_observer_events_total', 'Datapath events read from the ring buffer', [], (c) => { c.reset(); set(c, st.events); });
    m.counter('cnilab_observer_events_lost_total', 'Events lost, by Hubble LostEventSource', ['source'], (c) => {
      c.reset();
      for (const [source, n] of Object.entries(st.lost)) set(c, n, { source });
    });
    m.counter('cnilab_observer_l7_unparsed_total', 'L7 payload captures no parser recognised', [], (c) => { c.reset(); set(c, st.l7Unparsed); });
    m.counter('cnilab_observer_bad_records_total', 'Ring buffer records of an unknown layout or type', [], (c) => { c.reset(); set(c, st.badRecords); });
    m.counter('cnilab_observer_ingest_seconds_total', 'Time spent ingesting event batches (ring copy, metrics, L7 parsing)', [], (c) => { c.reset(); set(c, Number(st.ingestNs) / 1e9); });
    m.counter('cnilab_observer_decode_seconds_total', 'Time spent building Flow objects for readers (lazy decoding)', [], (c) => { c.reset(); set(c, Number(st.decodeNs) / 1e9); });
    m.counter('cnilab_observer_flows_decoded_total', 'Flow objects built for readers', [], (c) => { c.reset(); set(c, st.flowsBuilt); });
    m.counter('cnilab_agent_cpu_seconds_total', 'CPU time of the agent process', ['mode'], (c) => {
      c.reset();
      const u = process.cpuUsage();
      set(c, u.user / 1e6, { mode: 'user' });
      set(c, u.system / 1e6, { mode: 'system' });
    });
    m.gauge('cnilab_observer_flows', 'Flows held in the ring', [], (g) => g.set(this.observer.ring.size));
    m.gauge('cnilab_observer_flows_capacity', 'Flows the ring holds (hubble.eventBufferCapacity)', [], (g) => g.set(this.observer.ring.capacity));
    m.gauge('cnilab_observer_followers', 'GetFlows streams in follow mode', [], (g) => g.set(this.observer.followerCount));
    const dp = this.o.datapath;
    // Counting a hash map's entries walks its keys one system call each (65k for a full conntrack
    // table): one walk serves both gauges of a scrape, which reads them one right after the other.
    let maps: { at: number; list: ReturnType<Datapath['describeMaps']> } | undefined;
    const describe = () => {
      if (!maps || Date.now() - maps.at > 1000) maps = { at: Date.now(), list: dp.describeMaps() };
      return maps.list;
    };
    m.gauge('cnilab_bpf_map_entries', 'Entries in each pinned BPF map', ['map'], (g) => {
      g.reset();
      maps = undefined; // a fresh count on every scrape
      for (const x of describe()) g.set({ map: x.name }, x.entries);
    });
    m.gauge('cnilab_bpf_map_max_entries', 'Capacity of each pinned BPF map', ['map'], (g) => {
      g.reset();
      for (const x of describe()) g.set({ map: x.name }, x.maxEntries);
    });
    m.counter('cnilab_datapath_drop_packets_total', "Packets dropped, from the datapath's per-reason counters (independent of events)", ['reason', 'direction'], (c) => {
      c.reset();
      for (const d of dp.dropCounters()) set(c, Number(d.packets), { reason: dropReasonName(d.reason), direction: d.direction === 1 ? 'ingress' : d.direction === 2 ? 'egress' : 'unknown' });
    });
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.stopReader?.();
    this.stopReader = undefined;
    this.pollLostSafe();
    this.observer.close();
  }

  private pollLostSafe(): void {
    if (this.o.datapath.lostEventsPerCpu && this.lostSeen) this.pollLost();
  }
}
