// What the providers' captures parse: which device carries the node's address (`ip -j -4 addr show`),
// tcpdump's progress on stderr, the pid the kubeconfig capture's wrapper prints, and the command line.
import { describe, expect, it } from 'vitest';
import { capturePid, captureProgress, deviceWithAddress, endedEarlyReason, tcpdumpArgv } from './capture.js';

// As iproute2 6.1 prints it in a cnilab node namespace (abridged): lo, eth0 (underlay), cilium_host.
const IP_JSON = JSON.stringify([
  { ifindex: 1, ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }] },
  { ifindex: 2, link_index: 5, ifname: 'eth0', addr_info: [{ family: 'inet', local: '198.18.0.11', prefixlen: 24, broadcast: '198.18.0.255', scope: 'global' }] },
  { ifindex: 4, ifname: 'cilium_host', addr_info: [{ family: 'inet', local: '198.19.0.1', prefixlen: 32 }] },
]);

describe('node captures', () => {
  it('finds the device that carries the node address, and nothing for an address no device has', () => {
    expect(deviceWithAddress(IP_JSON, '198.18.0.11')).toBe('eth0');
    expect(deviceWithAddress(IP_JSON, '198.19.0.1')).toBe('cilium_host');
    expect(deviceWithAddress(IP_JSON, '198.18.0.12')).toBeUndefined();
    expect(deviceWithAddress('[]', '198.18.0.11')).toBeUndefined();
  });
  it('refuses output that is not ip -j', () => {
    expect(() => deviceWithAddress('2: eth0    inet 198.18.0.11/24', '198.18.0.11')).toThrow(/not JSON/);
    expect(() => deviceWithAddress('{"ifname":"eth0"}', '198.18.0.11')).toThrow(/list of links/);
  });
  it("reads tcpdump's progress: listening, or the error it exits with", () => {
    expect(captureProgress('')).toEqual({ listening: false });
    expect(captureProgress('tcpdump: verbose output suppressed, use -v[v]... for full protocol decode\n')).toEqual({ listening: false });
    // tcpdump 4.99 with -w, as it prints it here.
    expect(captureProgress('cnilab-capture-pid 42\ntcpdump: listening on eth0, link-type EN10MB (Ethernet), snapshot length 256 bytes\n')).toEqual({ listening: true });
    expect(captureProgress('listening on any, link-type LINUX_SLL2 (Linux cooked v2), snapshot length 256 bytes\n')).toEqual({ listening: true });
    expect(captureProgress('tcpdump: eth9: No such device exists\n(SIOCGIFHWADDR: No such device)\n')).toEqual({ listening: false, error: 'tcpdump: eth9: No such device exists' });
    expect(captureProgress('tcpdump: syntax error in filter expression\n').error).toMatch(/syntax error/);
  });
  it('never takes a listening line still being written for an error (the flaky wire captures)', () => {
    // tcpdump 4.99 writes this line in four write(2) calls on unbuffered stderr (strace: "tcpdump: ",
    // "listening on eth0", ", link-type EN10MB (Ethernet)", ", snapshot length 256 bytes\n"); a reader
    // may see any prefix of it. "tcpdump: " alone was taken for an error and the capture killed.
    const pieces = ['cnilab-capture-pid 42\n', 'tcpdump: ', 'listening on eth0', ', link-type EN10MB (Ethernet)', ', snapshot length 256 bytes\n'];
    const all = pieces.join('');
    for (let cut = 0; cut <= all.length; cut++) {
      const p = captureProgress(all.slice(0, cut));
      expect(p.error, `after ${JSON.stringify(all.slice(0, cut))}`).toBeUndefined();
      expect(p.listening).toBe(cut >= all.indexOf('listening on ') + 'listening on '.length);
    }
    expect(captureProgress('cnilab-capture-pid 42\ntcpdump: ')).toEqual({ listening: false });
    // A real error is one once its line is whole.
    expect(captureProgress('tcpdump: eth9: No such dev')).toEqual({ listening: false });
    expect(captureProgress('tcpdump: eth9: No such device exists\n').error).toBe('tcpdump: eth9: No such device exists');
  });
  it('says why a capture whose tcpdump ended before its stop is no evidence, unless its -c count ended it', () => {
    expect(endedEarlyReason({ exitCode: 0, maxPackets: 10 })).toBeUndefined();
    expect(endedEarlyReason({ exitCode: 0 })).toMatch(/^tcpdump ended before the capture was stopped \(exited with 0\)/);
    expect(endedEarlyReason({ signal: 'SIGKILL', maxPackets: 10 })).toMatch(/killed by SIGKILL/);
    expect(endedEarlyReason({ exitCode: 124, maxDurationMs: 120_000 })).toMatch(/time limit ran out \(timeout, 120 s\)/);
    expect(endedEarlyReason({ detail: 'the exec stream closed without the command\'s status' })).toMatch(/exec stream closed/);
  });
  it("takes the wrapper's pid only from its own line", () => {
    expect(capturePid('cnilab-capture-pid 42')).toBeUndefined(); // the number may go on
    expect(capturePid('cnilab-capture-pid 4242\nlistening on eth0\n')).toBe(4242);
    expect(capturePid('listening on eth0\n')).toBeUndefined();
    expect(capturePid('x cnilab-capture-pid 4242\n')).toBeUndefined();
  });
  it('builds tcpdump with the filter as one argument (never through a shell)', () => {
    expect(tcpdumpArgv({ iface: 'eth0', filter: ['udp', 'port', '8472'] }, '-')).toEqual(['tcpdump', '-i', 'eth0', '-w', '-', '-U', '--immediate-mode', '-n', '-Z', 'root', '-s', '256', 'udp port 8472']);
    expect(tcpdumpArgv({ iface: 'ens5', maxPackets: 10, snaplen: 128 }, '/tmp/x.pcap')).toEqual(['tcpdump', '-i', 'ens5', '-w', '/tmp/x.pcap', '-U', '--immediate-mode', '-n', '-Z', 'root', '-s', '128', '-c', '10']);
  });
});
