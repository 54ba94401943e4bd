// Root-only: two netns joined by a veth (198.18.200.1/30 in A, .2/30 in B). One WorkloadHost in
// this test process serves pods in BOTH namespaces; probes run as real processes via nsenter.
// Traffic only goes to addresses inside the namespaces created here.
import { randomBytes } from 'node:crypto';
import { existsSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../exec/run.js';
import { WorkloadHost, UnsupportedSubcommandError } from './agnhost/host.js';
import { probe, probeMany } from './probe.js';
import { startCapture } from './pcap.js';
import { createSocketIn, withNetns } from './netns.js';
import { startIperfServer, runIperfClient } from './iperf.js';
import { startSockperfServer, runSockperfPingPong } from './sockperf.js';
import net from 'node:net';
import dgram from 'node:dgram';

const id = randomBytes(3).toString('hex');
const nsA = `cnilab-trtest-${id}-a`;
const nsB = `cnilab-trtest-${id}-b`;
const vethA = `trta${id}`;
const vethB = `trtb${id}`;
const IP_A = '198.18.200.1';
const IP_B = '198.18.200.2';
// Routed by B to A, which does not forward (ip_forward=0 in a new netns) and drops silently: a
// real timeout. (A blackhole route would not do: connect() fails at once with EINVAL there.)
const UNANSWERED = '198.18.202.1';
const BLACKHOLED = '198.18.201.1';

const host = new WorkloadHost();
const ip = (...args: string[]) => run(['ip', ...args]);

beforeAll(async () => {
  if (!existsSync(new URL('../../dist/harness/traffic/agnhost/main.js', import.meta.url))) {
    await run(['npx', 'tsc', '-p', 'tsconfig.json'], { cwd: new URL('../..', import.meta.url).pathname, timeoutMs: 120_000, allowFailure: true });
  }
  await ip('netns', 'add', nsA);
  await ip('netns', 'add', nsB);
  await ip('link', 'add', vethA, 'netns', nsA, 'type', 'veth', 'peer', 'name', vethB, 'netns', nsB);
  await ip('-n', nsA, 'addr', 'add', `${IP_A}/30`, 'dev', vethA);
  await ip('-n', nsB, 'addr', 'add', `${IP_B}/30`, 'dev', vethB);
  for (const [ns, dev] of [[nsA, vethA], [nsB, vethB]] as const) {
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
    await ip('-n', ns, 'link', 'set', dev, 'up');
  }
  await ip('-n', nsB, 'route', 'add', 'blackhole', '198.18.201.0/24');
  await ip('-n', nsB, 'route', 'add', '198.18.202.0/24', 'via', IP_A);
});

afterAll(async () => {
  await host.stopAll();
  for (const ns of [nsA, nsB]) await run(['ip', 'netns', 'del', ns], { allowFailure: true });
});

function tcpRead(ns: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const s = new net.Socket({ fd: createSocketIn(ns, 'tcp'), readable: true, writable: true });
    s.connect(port, IP_A).on('data', (d) => (data += d)).on('end', () => resolve(data)).on('error', reject);
  });
}

function udpAsk(ns: string, port: number, msg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => (s.close(), reject(new Error('no UDP reply'))), 2000);
    s.on('message', (m) => (clearTimeout(t), s.close(), resolve(m.toString())));
    s.bind({ fd: createSocketIn(ns, 'udp') }, () => s.send(msg, port, IP_A));
  });
}

describe('traffic in netns', () => {
  it('serves pods in two netns from this one process', async () => {
    const before = readlinkSync('/proc/thread-self/ns/net');
    const sh = await host.startContainer({ netnsPath: nsA, podName: 'pod-a', args: ['serve-hostname', '--tcp', '--udp', '--http=false', '--port', '80'] });
    const nx = await host.startContainer({ netnsPath: nsA, podName: 'pod-a', args: ['netexec', '--http-port=8080', '--udp-port=8081'] });
    const sb = await host.startContainer({ netnsPath: `/run/netns/${nsB}`, podName: 'pod-b', args: ['serve-hostname', '--port', '9376'] });
    expect(sh.ports).toEqual([{ proto: 'tcp', port: 80 }, { proto: 'udp', port: 80 }]);
    expect(nx.ports).toEqual([{ proto: 'tcp', port: 8080 }, { proto: 'udp', port: 8081 }]);
    expect(sb.ports).toEqual([{ proto: 'tcp', port: 9376 }]);
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(before);
    const ss = await run(['ss', '-Hlntu'], { netns: nsA });
    expect(ss.stdout).toMatch(/0\.0\.0\.0:80\b/);
    expect(ss.stdout).toMatch(/0\.0\.0\.0:8080\b/);
    // Nothing leaked into the host netns.
    expect((await run(['ss', '-Hlnt', 'sport = :8080'])).stdout.trim()).toBe('');
    await expect(host.startContainer({ netnsPath: nsA, podName: 'x', args: ['liveness'] })).rejects.toThrow(UnsupportedSubcommandError);
    expect(WorkloadHost.supportedSubcommands).toEqual(expect.arrayContaining(['serve-hostname', 'netexec']));
  });

  it('answers with the hostname over TCP, UDP and HTTP', async () => {
    expect(await tcpRead(nsB, 80)).toBe('pod-a');
    expect(await udpAsk(nsB, 80, 'anything')).toBe('pod-a');
    expect(await udpAsk(nsB, 8081, 'hostname')).toBe('pod-a');
    expect(await udpAsk(nsB, 8081, 'clientip')).toMatch(/^198\.18\.200\.2:\d+$/);
    const [tcp, udp, udpNx, http, clientip, icmp] = await probeMany([
      { netns: nsB, protocol: 'tcp', host: IP_A, port: 80 },
      { netns: nsB, protocol: 'udp', host: IP_A, port: 80 },
      { netns: nsB, protocol: 'udp', host: IP_A, port: 8081 },
      { netns: nsB, protocol: 'http', host: IP_A, port: 8080, path: '/hostname' },
      { netns: nsB, protocol: 'http', host: IP_A, port: 8080, path: '/clientip' },
      { netns: nsB, protocol: 'icmp', host: IP_A },
    ], 6);
    for (const r of [tcp, udp, udpNx, http, clientip, icmp]) expect(r, JSON.stringify(r)).toMatchObject({ ok: true, exitCode: 0, outcome: 'ok' });
    expect(http!.stdout).toBe('pod-a');
    expect(clientip!.stdout).toMatch(/^198\.18\.200\.2:\d+$/);
    expect(tcp!.command.slice(0, 2)).toEqual(['nsenter', `--net=/run/netns/${nsB}`]);
  });

  it('netexec /dial originates from the pod netns', async () => {
    const r = await probe({ netns: nsB, protocol: 'http', host: IP_A, port: 8080, timeoutMs: 5000, path: `/dial?request=hostname&host=${IP_B}&port=9376&protocol=http` });
    expect(r.ok, r.stderr).toBe(true);
    expect(JSON.parse(r.stdout)).toEqual({ responses: ['pod-b'], errors: [] });
  });

  it('classifies refused, timeout and other failures', async () => {
    const [refused, refusedUdp, timeout, blackholed, httpErr, pingTimeout, tooBig] = await probeMany([
      // A long deadline: refusal must come back well before it (no waiting for a timeout).
      { netns: nsB, protocol: 'tcp', host: IP_A, port: 81, timeoutMs: 5000 },
      { netns: nsB, protocol: 'udp', host: IP_A, port: 81 },
      { netns: nsB, protocol: 'tcp', host: UNANSWERED, port: 80, timeoutMs: 1000 },
      { netns: nsB, protocol: 'tcp', host: BLACKHOLED, port: 80 },
      { netns: nsB, protocol: 'http', host: IP_A, port: 8080, path: '/echo?code=404' },
      { netns: nsB, protocol: 'icmp', host: UNANSWERED, timeoutMs: 500 },
      { netns: nsB, protocol: 'icmp', host: IP_A, size: 1473, dontFragment: true },
    ]);
    expect(refused).toMatchObject({ ok: false, exitCode: 1, outcome: 'refused', stderr: 'REFUSED\n' });
    expect(refused!.durationMs).toBeLessThan(3000); // includes Node start-up on a loaded 2-core box
    expect(refusedUdp).toMatchObject({ outcome: 'refused' });
    expect(timeout).toMatchObject({ ok: false, exitCode: 1, outcome: 'timeout', stderr: 'TIMEOUT\n' });
    expect(timeout!.durationMs).toBeGreaterThanOrEqual(1000);
    expect(timeout!.durationMs).toBeLessThan(4000);
    expect(blackholed).toMatchObject({ outcome: 'other' });
    expect(blackholed!.stderr).toMatch(/^OTHER: /);
    expect(httpErr).toMatchObject({ exitCode: 22, outcome: 'other' });
    expect(pingTimeout).toMatchObject({ exitCode: 1, outcome: 'timeout' });
    expect(tooBig!.outcome).toBe('other');
    expect(tooBig!.stderr + tooBig!.stdout).toMatch(/message too long/);
  });

  it('captures the TCP SYN on the veth', async () => {
    const cap = await startCapture({ netns: nsA, iface: vethA, filter: 'tcp port 80' });
    const r = await probe({ netns: nsB, protocol: 'tcp', host: IP_A, port: 80 });
    expect(r.ok).toBe(true);
    const { packets } = await cap.stop();
    const syn = packets.find((p) => p.outer.tcpFlags?.join() === 'SYN');
    expect(syn?.outer).toMatchObject({ srcIp: IP_B, dstIp: IP_A, proto: 'tcp', dstPort: 80 });
    expect(packets.some((p) => p.outer.tcpFlags?.join() === 'SYN,ACK' && p.outer.srcIp === IP_A)).toBe(true);
  });

  it('withNetns restores the thread netns even when the callback throws', () => {
    const before = readlinkSync('/proc/thread-self/ns/net');
    const inside = withNetns(nsA, () => readlinkSync('/proc/thread-self/ns/net'));
    expect(inside).not.toBe(before);
    expect(() => withNetns(nsA, () => { throw new Error('boom'); })).toThrow('boom');
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(before);
  });

  it('runs iperf3 and sockperf between the namespaces', async () => {
    const srv = await startIperfServer({ netns: nsA, port: 5201 });
    try {
      const r = await runIperfClient({ netns: nsB, host: IP_A, port: 5201, durationSec: 1 });
      expect(r.protocol).toBe('tcp');
      expect(r.receivedBitsPerSecond).toBeGreaterThan(1e8);
    } finally {
      await srv.stop();
    }
    const sp = await startSockperfServer({ netns: nsA, host: IP_A, port: 11111 });
    try {
      const r = await runSockperfPingPong({ netns: nsB, host: IP_A, port: 11111, durationSec: 1 });
      expect(r.observations).toBeGreaterThan(100);
      expect(r.p99).toBeGreaterThanOrEqual(r.p50);
    } finally {
      await sp.stop();
    }
  });
});
