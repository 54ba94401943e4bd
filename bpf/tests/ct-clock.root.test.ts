// Conntrack's clock (lib/conntrack.h ct_clock_ns: CLOCK_MONOTONIC at tick resolution) against its
// lifetimes, through BPF_PROG_TEST_RUN: an entry whose last_seen is older than the TCP lifetime makes a
// bare SYN a new connection (the entry is written again: one packet), a recent one keeps counting, and
// one stamped up to a tick in the future (written by a datapath on the fine clock before an upgrade) is
// not taken for a wrapped huge age. The stamps come from Node's monotonic clock, the kernel's
// CLOCK_MONOTONIC, the base both BPF clocks share: a datapath reading another clock (boot time, or
// seconds where ns are stored) fails the first two cases.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapLookup, mapUpdate } from '../../agent/datapath/libbpf.js';
import { ipToBytes, u32Key } from '../../agent/datapath/codec.js';
import { CONFIG, CT_KEY, CT_VALUE, MAP, PROG, TC_ACT } from '../../agent/datapath/constants.js';
import type { EndpointEntry } from '../../agent/datapath/types.js';
import { eth, ETH_P_IP, TCP, tcp } from './packets.js';
import { buildAndMount, Harness, removePinDir, tempPinDir } from './fixture.js';

const A: EndpointEntry = { ifindex: 1, ip: '198.19.1.10', podMac: '02:00:00:00:00:0a', hostMac: '02:00:00:00:01:0a', identity: 1001, endpointId: 10 };
const R = '198.19.2.30';

function ctKey(sport: number): Buffer {
  const k = Buffer.alloc(CT_KEY.size);
  ipToBytes(A.ip).copy(k, CT_KEY.saddr);
  ipToBytes(R).copy(k, CT_KEY.daddr);
  k.writeUInt16BE(sport, CT_KEY.sport);
  k.writeUInt16BE(9100, CT_KEY.dport);
  k[CT_KEY.proto] = 6;
  return k;
}

describe('conntrack lifetime on its clock (BPF_PROG_TEST_RUN)', () => {
  let pinDir: string;
  let h: Harness;

  beforeAll(async () => {
    await buildAndMount();
    pinDir = tempPinDir('ctclock');
    h = new Harness(pinDir);
    h.dp.upsertEndpoint(A);
    h.dp.upsertIpcache(`${R}/32`, { identity: 2001, tunnelEndpoint: '198.18.0.12' });
    mapUpdate(h.obj.mapFd(MAP.config), u32Key(CONFIG.tunnelIfindex), u32Key(77));
  });
  afterAll(() => {
    h?.close();
    if (pinDir) removePinDir(pinDir);
  });

  /** A SYN of A's connection from sport after an entry stamped `ageNs` ago (negative: in the future)
   *  with 100 forward packets; returns the entry's forward packets afterwards. */
  const synAfter = (sport: number, ageNs: bigint): number => {
    const v = Buffer.alloc(CT_VALUE.size);
    v.writeBigUInt64LE(100n, CT_VALUE.packetsFwd);
    v.writeBigUInt64LE(process.hrtime.bigint() - ageNs, CT_VALUE.lastSeen);
    v[CT_VALUE.reportedFwd] = 0x80 | TCP.SYN;
    v[CT_VALUE.flagsSeenFwd] = TCP.SYN;
    mapUpdate(h.obj.mapFd(MAP.ct), ctKey(sport), v);
    const r = h.run(PROG.fromContainer, eth(A.hostMac, A.podMac, ETH_P_IP, tcp(A.ip, R, sport, 9100, TCP.SYN)), A.ifindex);
    expect(r.retval).toBe(TC_ACT.REDIRECT);
    return Number(mapLookup(h.obj.mapFd(MAP.ct), ctKey(sport), CT_VALUE.size)!.readBigUInt64LE(CT_VALUE.packetsFwd));
  };

  it('a bare SYN after more than the TCP lifetime (60 s) starts a new connection', () => {
    expect(synAfter(41000, 61_000_000_000n)).toBe(1);
  });
  it('a bare SYN within the lifetime is counted on the open connection', () => {
    expect(synAfter(41001, 1_000_000_000n)).toBe(101);
    expect(synAfter(41002, 50_000_000_000n)).toBe(101);
  });
  it('an entry stamped a little in the future (the fine clock before an upgrade) is not over', () => {
    expect(synAfter(41003, -20_000_000n)).toBe(101);
  });
});
