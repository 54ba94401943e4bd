import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseFlags, parseGoDuration, UsageError } from './flags.js';
import { connect, parseConnectArgs, splitHostPort } from './connect.js';
import { parseServeHostnameArgs, startServeHostname } from './serve-hostname.js';
import { parseNetexecArgs, startNetexec, udpReply } from './netexec.js';
import { httpGet } from './http-get.js';
import { plainBinder, type RunningWorkload, type WorkloadContext } from './context.js';
import { main, SUPPORTED_SUBCOMMANDS } from './main.js';
import { classifyProbe } from '../probe.js';
import { responderFromTcpReply, whoami } from './whoami.js';

describe('flags', () => {
  it('parses Go durations', () => {
    expect(parseGoDuration('1s')).toBe(1000);
    expect(parseGoDuration('500ms')).toBe(500);
    expect(parseGoDuration('1m30s')).toBe(90_000);
    expect(parseGoDuration('1.5s')).toBe(1500);
    expect(parseGoDuration('0')).toBe(0);
    expect(parseGoDuration('250us')).toBeCloseTo(0.25);
    expect(() => parseGoDuration('1')).toThrow(/invalid duration/);
    expect(() => parseGoDuration('1sec')).toThrow(UsageError);
  });

  it('accepts --f=v, --f v, bare bools, --bool=false, and rejects unknown flags', () => {
    const specs = { port: { kind: 'int', default: 9376 }, tcp: { kind: 'bool', default: false }, http: { kind: 'bool', default: true } } as const;
    expect(parseFlags(['--port', '80', '--tcp', '--http=false'], specs).flags).toEqual({ port: 80, tcp: true, http: false });
    expect(parseFlags(['--port=81', 'x'], specs)).toEqual({ flags: { port: 81, tcp: false, http: true }, positional: ['x'] });
    expect(() => parseFlags(['--nope'], specs)).toThrow('unknown flag: --nope');
    expect(() => parseFlags(['--port'], specs)).toThrow(/needs an argument/);
    expect(() => parseFlags(['--port=eighty'], specs)).toThrow(/invalid argument "eighty"/);
    expect(() => parseFlags(['--http=maybe'], specs)).toThrow(/ParseBool/);
  });
});

describe('agnhost argument handling', () => {
  it('connect', () => {
    expect(parseConnectArgs(['198.19.1.5:80', '--timeout=1s', '--protocol=udp'])).toEqual({ host: '198.19.1.5', port: 80, timeoutMs: 1000, protocol: 'udp' });
    expect(parseConnectArgs(['--timeout', '500ms', 'svc.ns:8080'])).toMatchObject({ host: 'svc.ns', port: 8080, timeoutMs: 500, protocol: 'tcp' });
    expect(splitHostPort('[fd00::1]:81')).toEqual({ host: 'fd00::1', port: 81 });
    expect(() => parseConnectArgs(['198.19.1.5'])).toThrow(/missing port/);
    expect(() => parseConnectArgs([])).toThrow(/exactly one/);
  });

  it('serve-hostname', () => {
    expect(parseServeHostnameArgs([])).toEqual({ tcp: false, udp: false, http: true, close: false, port: 9376 });
    expect(parseServeHostnameArgs(['--tcp', '--udp', '--http=false', '--port', '80'])).toMatchObject({ tcp: true, udp: true, http: false, port: 80 });
    expect(() => parseServeHostnameArgs(['--tcp'])).toThrow("Can't server TCP/UDP mode and HTTP mode at the same time");
  });

  it('netexec', () => {
    expect(parseNetexecArgs([])).toEqual({ httpPort: 8080, udpPort: 8081 });
    expect(parseNetexecArgs(['--http-port=80', '--udp-port', '-1'])).toEqual({ httpPort: 80, udpPort: -1 });
    expect(() => parseNetexecArgs(['--sctp-port=80'])).toThrow(/not supported/);
  });

  it('netexec UDP replies', () => {
    expect(udpReply('hostname\n', 'pod-a', '1.2.3.4:5')).toBe('pod-a');
    expect(udpReply('echo hostname\n', 'pod-a', 'x')).toBe('hostname');
    expect(udpReply('ECHO Hi', 'pod-a', 'x')).toBe('hi'); // the real server lower-cases
    expect(udpReply(' clientip ', 'pod-a', '1.2.3.4:5')).toBe('1.2.3.4:5');
    expect(udpReply('what', 'pod-a', 'x')).toBeUndefined();
  });

  it('main lists subcommands and rejects unknown ones with exit 1', async () => {
    expect(SUPPORTED_SUBCOMMANDS).toEqual(expect.arrayContaining(['connect', 'serve-hostname', 'netexec']));
    const writes: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (writes.push(String(s)), true)) as typeof process.stderr.write;
    try {
      expect(await main(['liveness'])).toBe(1);
      expect(await main(['connect', '127.0.0.1:1', '--protocol=sctp'])).toBe(1);
      expect(await main(['connect', 'nope'])).toBe(1);
    } finally {
      process.stderr.write = orig;
    }
    expect(writes.join('')).toMatch(/unknown command "liveness"/);
    expect(writes.join('')).toMatch(/UNSUPPORTED: protocol sctp/);
    expect(writes.join('')).toMatch(/^UNKNOWN: /m);
  });

  it('classifies probe outcomes', () => {
    expect(classifyProbe('tcp', 1, '', 'TIMEOUT\n', false)).toBe('timeout');
    expect(classifyProbe('udp', 1, '', 'REFUSED\n', false)).toBe('refused');
    expect(classifyProbe('tcp', 1, '', 'OTHER: dial tcp: no route to host\n', false)).toBe('other');
    expect(classifyProbe('http', 28, '', '', false)).toBe('timeout');
    expect(classifyProbe('http', 7, '', 'curl: (7) Failed to connect to x: connect ECONNREFUSED', false)).toBe('refused');
    expect(classifyProbe('http', 22, '', '', false)).toBe('other');
    expect(classifyProbe('icmp', 1, '1 packets transmitted, 0 received', '', false)).toBe('timeout');
    expect(classifyProbe('icmp', 1, 'From 1.1.1.1 icmp_seq=1 Destination Host Unreachable', '', false)).toBe('other');
    // The wrapper killing a hung probe is the tool's failure, not a network timeout.
    expect(classifyProbe('icmp', 0, '', '', true)).toBe('tool-error');
  });
});

// Plain sockets on 127.0.0.1 in the test's own netns: no root needed.
describe('agnhost servers and clients on loopback', () => {
  const running: RunningWorkload[] = [];
  afterEach(async () => void (await Promise.all(running.splice(0).map((r) => r.stop()))));
  const ctx: WorkloadContext = { hostname: 'pod-a', binder: plainBinder, log: () => undefined };
  const freePort = () =>
    new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
    });
  const readAll = (port: number) =>
    new Promise<string>((resolve, reject) => {
      let data = '';
      net.connect(port, '127.0.0.1').on('data', (d) => (data += d)).on('end', () => resolve(data)).on('error', reject);
    });

  it('serve-hostname --tcp --udp answers the hostname; connect succeeds on both', async () => {
    const port = await freePort();
    running.push(await startServeHostname(parseServeHostnameArgs(['--tcp', '--udp', '--http=false', `--port=${port}`]), ctx));
    expect(await readAll(port)).toBe('pod-a');
    expect(await connect({ host: '127.0.0.1', port, timeoutMs: 1000, protocol: 'tcp' })).toEqual({ code: 0, stderr: '' });
    expect(await connect({ host: '127.0.0.1', port, timeoutMs: 1000, protocol: 'udp' })).toEqual({ code: 0, stderr: '' });
  });

  it('cnilab-whoami names the responder over netexec HTTP, UDP and serve-hostname TCP, and fails like connect', async () => {
    const port = await freePort();
    const udp = await freePort();
    running.push(await startNetexec({ httpPort: port, udpPort: udp }, ctx));
    expect(await whoami({ host: '127.0.0.1', port, timeoutMs: 1000, protocol: 'tcp' })).toEqual({ code: 0, stderr: '', responder: 'pod-a' });
    expect(await whoami({ host: '127.0.0.1', port: udp, timeoutMs: 1000, protocol: 'udp' })).toEqual({ code: 0, stderr: '', responder: 'pod-a' });
    const sh = await freePort();
    running.push(await startServeHostname(parseServeHostnameArgs(['--tcp', '--http=false', `--port=${sh}`]), { ...ctx, hostname: 'pod-b' }));
    expect((await whoami({ host: '127.0.0.1', port: sh, timeoutMs: 1000, protocol: 'tcp' })).responder).toBe('pod-b');
    const closed = await freePort();
    expect(await whoami({ host: '127.0.0.1', port: closed, timeoutMs: 1000, protocol: 'tcp' })).toEqual({ code: 1, stderr: 'REFUSED\n' });
    expect(responderFromTcpReply('HTTP/1.1 404 Not Found\r\n\r\nnope')).toBeUndefined();
  });

  it('connect reports REFUSED for closed TCP and UDP ports', async () => {
    const port = await freePort();
    expect(await connect({ host: '127.0.0.1', port, timeoutMs: 1000, protocol: 'tcp' })).toEqual({ code: 1, stderr: 'REFUSED\n' });
    expect(await connect({ host: '127.0.0.1', port, timeoutMs: 1000, protocol: 'udp' })).toEqual({ code: 1, stderr: 'REFUSED\n' });
  });

  it('netexec HTTP endpoints with curl-style exit codes', async () => {
    const port = await freePort();
    let clients = 0;
    // /dial must open its sockets through the binder (in the WorkloadHost: inside the pod netns).
    const counting = { ...plainBinder, tcpClient: () => (clients++, plainBinder.tcpClient()) };
    running.push(await startNetexec({ httpPort: port, udpPort: -1 }, { ...ctx, binder: counting }));
    const base = `http://127.0.0.1:${port}`;
    expect(await httpGet(`${base}/hostname`, 2000)).toMatchObject({ code: 0, status: 200, body: 'pod-a' });
    expect(await httpGet(`${base}/echo?msg=hi%20there`, 2000)).toMatchObject({ code: 0, body: 'hi there' });
    expect((await httpGet(`${base}/clientip`, 2000)).body).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await httpGet(`${base}/healthz`, 2000)).toMatchObject({ code: 0, body: 'ok' });
    expect((await httpGet(`${base}/`, 2000)).body).toMatch(/^NOW: /);
    expect(await httpGet(`${base}/echo?code=503`, 2000)).toMatchObject({ code: 22, status: 503 });
    const dial = await httpGet(`${base}/dial?request=hostname&host=127.0.0.1&port=${port}&protocol=http&tries=2`, 5000);
    expect(JSON.parse(dial.body)).toEqual({ responses: ['pod-a', 'pod-a'], errors: [] });
    expect(clients).toBe(2);
    expect(await httpGet(`http://127.0.0.1:${await freePort()}/`, 2000)).toMatchObject({ code: 7 });
    expect(await httpGet('ftp://x/', 2000)).toMatchObject({ code: 3 });
  });
});
