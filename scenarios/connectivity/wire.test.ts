// The pod → another node check of the wire scenario, fed the capture of issue 12's found-4 bug: the
// request leaves bare with the pod IP, the reply comes back through the tunnel.
import { describe, expect, it } from 'vitest';
import type { CapturedPacket } from '../../harness/traffic/pcap-parse.js';
import { podToNodeOutcomes } from './wire.js';

const h = (srcIp: string, dstIp: string, proto: 'icmp' | 'udp' = 'icmp') => ({ srcIp, dstIp, proto, srcPort: proto === 'udp' ? 40000 : undefined, dstPort: proto === 'udp' ? 8472 : undefined }) as unknown as CapturedPacket['outer'];
const bare = (s: string, d: string): CapturedPacket => ({ ts: 0, outer: h(s, d), length: 98, capturedLength: 98 });
const vx = (os: string, od: string, is: string, id: string): CapturedPacket => ({ ts: 0, outer: h(os, od, 'udp'), vxlan: { vni: 6 }, inner: h(is, id), length: 148, capturedLength: 148 });
const POD = { ip: '198.19.0.2', key: 'x/a' };
const N1 = '198.18.0.11';
const N2 = '198.18.0.12';

describe('pod → another node on the wire', () => {
  it('tunnel: the found-4 bug (out bare with the pod IP, back through the tunnel) fails', () => {
    const [o] = podToNodeOutcomes([bare(POD.ip, N2), vx(N2, N1, N2, POD.ip)], POD, N1, N2, true, 'tcpdump');
    expect(o).toMatchObject({ id: 'pod-to-node-tunnelled', passed: false, observed: '0 out / 1 back in VXLAN, 1 out / 0 back bare' });
  });
  it('tunnel: through the tunnel both ways passes; nothing captured fails', () => {
    expect(podToNodeOutcomes([vx(N1, N2, POD.ip, N2), vx(N2, N1, N2, POD.ip)], POD, N1, N2, true, 't')[0]!.passed).toBe(true);
    expect(podToNodeOutcomes([], POD, N1, N2, true, 't')[0]!.passed).toBe(false);
  });
  it('native: bare both ways passes, tunnelled fails', () => {
    expect(podToNodeOutcomes([bare(POD.ip, N2), bare(N2, POD.ip)], POD, N1, N2, false, 't')[0]!.passed).toBe(true);
    expect(podToNodeOutcomes([vx(N1, N2, POD.ip, N2), bare(N2, POD.ip)], POD, N1, N2, false, 't')[0]!.passed).toBe(false);
  });
});
