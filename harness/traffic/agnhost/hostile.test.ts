// Hostile input to the agnhost servers, in-process on loopback: hand-picked requests that crashed
// the cluster daemon (`/echo?code=0`, the path `//`, a reply to UDP source port 0), then fast-check
// fuzzing of the HTTP handlers (random methods, paths, queries, headers, bodies), of raw malformed
// bytes over a socket, of UDP datagrams, and of every flag parser. The property is always the same:
// no exception escapes, the server answers (an HTTP reply or a closed connection), and it keeps
// serving the next request.
import net from 'node:net';
import type dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { plainBinder, type RunningWorkload, type SocketBinder, type WorkloadContext } from './context.js';
import { parseNetexecArgs, parseDialQuery, startNetexec, NETEXEC_FLAGS } from './netexec.js';
import { parseServeHostnameArgs, startServeHostname, SERVE_HOSTNAME_FLAGS } from './serve-hostname.js';
import { CONNECT_FLAGS, parseConnectArgs } from './connect.js';
import { HTTP_GET_FLAGS } from './http-get.js';
import { parseFlags, parseGoDuration, UsageError, type FlagSpec } from './flags.js';
import { cleanPath, goAtoi, parseRequestTarget } from './http-guard.js';
import { validateServerArgs } from './servers.js';
import { bodyOf, rawGet, rawTcp, rawUdp, statusOf } from '../../testing/raw-socket.js';

const HOST = '127.0.0.1';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, HOST, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Loopback sockets; /dial gets no network at all (fuzzed hosts must never be contacted). */
function fuzzBinder(udpSockets: dgram.Socket[]): SocketBinder {
  return {
    listenTcp: plainBinder.listenTcp,
    bindUdp: async (port) => {
      const s = await plainBinder.bindUdp(port);
      udpSockets.push(s);
      return s;
    },
    tcpClient: () => {
      throw new Error('no network in the fuzz test');
    },
    udpClient: () => Promise.reject(new Error('no network in the fuzz test')),
  };
}

const logs: string[] = [];
const udpSockets: dgram.Socket[] = [];
const ctx: WorkloadContext = { hostname: 'pod-a', binder: fuzzBinder(udpSockets), log: (l) => void logs.push(l) };
const servers: RunningWorkload[] = [];
let ports: { netexec: number; netexecUdp: number; shHttp: number; shRaw: number };

beforeAll(async () => {
  ports = { netexec: await freePort(), netexecUdp: await freePort(), shHttp: await freePort(), shRaw: await freePort() };
  servers.push(await startNetexec({ httpPort: ports.netexec, udpPort: ports.netexecUdp }, ctx));
  servers.push(await startServeHostname(parseServeHostnameArgs([`--port=${ports.shHttp}`]), ctx));
  servers.push(await startServeHostname(parseServeHostnameArgs(['--tcp', '--udp', '--http=false', `--port=${ports.shRaw}`]), ctx));
});
afterAll(async () => void (await Promise.all(servers.map((s) => s.stop()))));

async function stillServing(): Promise<void> {
  const nx = await rawTcp(HOST, ports.netexec, rawGet('/hostname'));
  expect(bodyOf(nx.data)).toBe('pod-a');
  const sh = await rawTcp(HOST, ports.shHttp, rawGet('/'));
  expect(bodyOf(sh.data)).toBe('pod-a');
  expect(await rawUdp(HOST, ports.netexecUdp, Buffer.from('hostname'))).toBe('pod-a');
}

describe('agnhost servers under requests that crashed the cluster daemon', () => {
  it('/echo with a status outside 100-999 closes that connection, as Go does, and the server keeps serving', async () => {
    for (const code of ['0', '-1', '99', '1000', '99999999999999999999999']) {
      const r = await rawTcp(HOST, ports.netexec, rawGet(`/echo?code=${code}&msg=x`));
      expect(r.closed).toBe(true);
      if (code === '99999999999999999999999') {
        // Not an int for strconv.Atoi: upstream answers 200 with a message.
        expect(statusOf(r.data)).toBe(200);
        expect(bodyOf(r.data)).toMatch(/argument 'code' must be an integer or empty/);
      } else {
        expect(r.data).toBe('');
      }
      await stillServing();
    }
    expect(logs.some((l) => /^http: panic serving 127\.0\.0\.1:\d+: invalid WriteHeader code 0$/.test(l))).toBe(true);
    expect(statusOf((await rawTcp(HOST, ports.netexec, rawGet('/echo?code=418'))).data)).toBe(418);
    expect(statusOf((await rawTcp(HOST, ports.netexec, rawGet('/echo?code=100&msg=m'))).data)).toBe(200);
  });

  it('unclean paths are redirected, bad targets get 400, on both HTTP servers', async () => {
    for (const port of [ports.netexec, ports.shHttp]) {
      const r = await rawTcp(HOST, port, rawGet('//'));
      expect(statusOf(r.data)).toBe(301);
      expect(r.data).toMatch(/\r\nLocation: \/\r\n/);
      expect(statusOf((await rawTcp(HOST, port, rawGet('/a/../hostname?x=1'))).data)).toBe(301);
      expect(statusOf((await rawTcp(HOST, port, rawGet('/%zz'))).data)).toBe(400);
      expect(statusOf((await rawTcp(HOST, port, rawGet('*'))).data)).toBe(400);
      await stillServing();
    }
    // The absolute form is a valid request target.
    expect(bodyOf((await rawTcp(HOST, ports.netexec, rawGet('http://pod/hostname'))).data)).toBe('pod-a');
  });

  it('a datagram from source port 0 (a raw socket can forge it) is logged, not answered, and not fatal', async () => {
    for (const sock of udpSockets) {
      sock.emit('message', Buffer.from('hostname'), { address: HOST, port: 0, family: 'IPv4', size: 8 });
    }
    expect(logs.filter((l) => /not sent: invalid port/.test(l)).length).toBe(udpSockets.length);
    await stillServing();
  });

  it('/dial validates its parameters as upstream does, and never dials more than the cap', () => {
    const q = (s: string) => parseDialQuery(new URLSearchParams(s));
    expect(q('request=hostname&host=198.19.0.5&port=8080')).toEqual({ request: 'hostname', host: '198.19.0.5', port: 8080, protocol: 'http', tries: 1 });
    expect(q('request=x&host=a.b&port=1&protocol=UDP&tries=3')).toMatchObject({ protocol: 'udp', tries: 3 });
    expect(q('host=a&port=1')).toEqual({ error: expect.stringMatching(/request parameter not specified/) });
    expect(q('request=x&host=a&port=99999')).toEqual({ error: expect.stringMatching(/host and\/or port param are invalid/) });
    expect(q('request=x&host=a%00b&port=80')).toEqual({ error: expect.stringMatching(/host and\/or port/) });
    expect(q('request=x&host=a&port=1&tries=x')).toEqual({ error: expect.stringMatching(/tries parameter is invalid/) });
    expect(q('request=x&host=a&port=1&tries=1000000000')).toEqual({ error: expect.stringMatching(/at most 100/) });
    expect(q('request=x&host=a&port=1&protocol=sctp')).toEqual({ error: 'unsupported protocol. sctp' });
  });

  it('Go helpers: cleanPath, ParseRequestURI, Atoi', () => {
    expect(cleanPath('//')).toBe('/');
    expect(cleanPath('/a/b/')).toBe('/a/b/');
    expect(cleanPath('/a/./b/../c')).toBe('/a/c');
    expect(cleanPath('/../..')).toBe('/');
    expect(parseRequestTarget('/a%20b?x=%zz')).toEqual({ path: '/a b', rawPath: '/a%20b', rawQuery: 'x=%zz' });
    expect(parseRequestTarget('http://h:1/p?q')).toMatchObject({ path: '/p', rawQuery: 'q' });
    expect(parseRequestTarget('http://h')).toMatchObject({ path: '/' });
    expect(parseRequestTarget('x')).toBeUndefined();
    expect(goAtoi('+12')).toBe(12);
    expect(goAtoi('1e3')).toBeUndefined();
    expect(goAtoi('9223372036854775808')).toBeUndefined();
  });
});

// ---- fuzzing ----

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'BREW'];
const KNOWN_PATHS = ['/', '/hostname', '/hostName', '/clientip', '/healthz', '/readyz', '/header', '/echo', '/dial', '/exit', '/shell', '/upload'];
const QUERY_KEYS = ['code', 'msg', 'key', 'host', 'port', 'request', 'protocol', 'tries', 'timeout', 'wait'];
// Characters that are legal in a request target but mean something to a parser.
const targetChar = fc.constantFrom(...'/.%?&=#;+-_~!$\'()*,:@[]'.split(''), 'a', 'Z', '0', '9', '%00', '%2F', '%zz', '%', '..', '//');
const segment = fc.array(targetChar, { maxLength: 8 }).map((a) => a.join(''));
const pathArb = fc.oneof(fc.constantFrom(...KNOWN_PATHS), fc.array(segment, { maxLength: 5 }).map((s) => `/${s.join('/')}`), segment);
const valueArb = fc.oneof(
  fc.integer({ min: -2000, max: 2000 }).map(String),
  fc.constantFrom('', '0', '-0', '+1', '1e3', '99999999999999999999', 'NaN', '127.0.0.1', 'hostname', 'udp', 'http', 'sctp'),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
);
const queryArb = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...QUERY_KEYS), fc.string({ maxLength: 5 }).map(encodeURIComponent)), valueArb), { maxLength: 5 })
  .map((kv) => kv.map(([k, v]) => `${k}=${v}`).join('&'));
const headerArb = fc.dictionary(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/), fc.stringMatching(/^[\x20-\x7e]{0,40}$/), { maxKeys: 4 });

describe('fuzzing the agnhost HTTP servers', () => {
  it('random well-formed requests: a valid reply or a closed connection, and the server keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('netexec', 'shHttp') as fc.Arbitrary<'netexec' | 'shHttp'>,
        fc.oneof(fc.constantFrom(...METHODS), fc.stringMatching(/^[A-Z]{1,8}$/)),
        pathArb,
        queryArb,
        headerArb,
        fc.string({ maxLength: 64 }),
        async (server, method, path, query, headers, body) => {
          const target = query ? `${path}?${query}` : path;
          const head = [`${method} ${target} HTTP/1.1`, 'Host: pod', 'Connection: close', `Content-Length: ${Buffer.byteLength(body)}`];
          for (const [k, v] of Object.entries(headers)) if (!/^(content-length|transfer-encoding|host|connection)$/i.test(k)) head.push(`${k}: ${v}`);
          const r = await rawTcp(HOST, ports[server], `${head.join('\r\n')}\r\n\r\n${body}`);
          expect(r.closed).toBe(true);
          if (r.data) expect(statusOf(r.data), r.data.slice(0, 80)).toBeDefined();
        },
      ),
      { numRuns: 150 },
    );
    await stillServing();
  });

  it('raw malformed bytes over a socket: a 400 or a closed connection, never a crash', async () => {
    const chunk = fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      fc.constantFrom('GET ', 'HTTP/1.1', 'HTTP/9.9', '\r\n', '\n', '\r', ' ', ':', 'Content-Length: ', 'Transfer-Encoding: chunked', '-1', '99999999999999999999', 'Host: x', '\x00', '\xff').map((s) => Buffer.from(s, 'latin1')),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('netexec', 'shHttp', 'shRaw') as fc.Arbitrary<'netexec' | 'shHttp' | 'shRaw'>, fc.array(chunk, { maxLength: 12 }), async (server, parts) => {
        const r = await rawTcp(HOST, ports[server], Buffer.concat(parts), { timeoutMs: 1500 });
        if (server === 'shRaw') expect(r.data).toBe('pod-a');
        else if (r.data) expect(statusOf(r.data), r.data.slice(0, 80)).toBeDefined();
      }),
      { numRuns: 100 },
    );
    await stillServing();
  });

  it('random UDP datagrams are answered or ignored, never fatal', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)), fc.string({ maxLength: 40 }).map((s) => Buffer.from(s))), async (payload) => {
        await rawUdp(HOST, ports.netexecUdp, payload, { timeoutMs: 20 });
        await rawUdp(HOST, ports.shRaw, payload, { timeoutMs: 20 });
      }),
      { numRuns: 60 },
    );
    await stillServing();
  });
});

describe('fuzzing the agnhost flag parsers', () => {
  const FLAG_NAMES = [...new Set([...Object.keys(NETEXEC_FLAGS), ...Object.keys(SERVE_HOSTNAME_FLAGS), ...Object.keys(CONNECT_FLAGS)])];
  const argArb = fc.oneof(
    fc.constantFrom(...FLAG_NAMES).chain((n) => fc.constantFrom(`--${n}`, `-${n}`, `--${n}=`)),
    fc.tuple(fc.constantFrom(...FLAG_NAMES), valueArb).map(([n, v]) => `--${n}=${v}`),
    fc.constantFrom('--', '-', '---x', '--=', 'true', 'false', '80', '-1', '1s', '198.19.0.5:80', '[::1]:81', 'x:99999'),
    fc.string({ maxLength: 12 }),
  );
  const argvArb = fc.array(argArb, { maxLength: 8 });
  /** Accepts, or rejects with a UsageError: any other exception is a bug. */
  const usageOnly = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      expect(e.message.length).toBeGreaterThan(0);
    }
  };

  it('every subcommand parser accepts or throws a UsageError', () => {
    fc.assert(
      fc.property(argvArb, (argv) => {
        usageOnly(() => parseNetexecArgs(argv));
        usageOnly(() => parseServeHostnameArgs(argv));
        usageOnly(() => parseConnectArgs(argv));
        usageOnly(() => validateServerArgs('netexec', argv));
        usageOnly(() => parseFlags(argv, HTTP_GET_FLAGS));
      }),
      { numRuns: 400 },
    );
  });

  it('parsed values have the declared kinds; ports are in range', () => {
    fc.assert(
      fc.property(argvArb, (argv) => {
        try {
          const o = parseServeHostnameArgs(argv);
          expect(o.port).toBeGreaterThanOrEqual(0);
          expect(o.port).toBeLessThanOrEqual(65535);
        } catch (e) {
          if (!(e instanceof UsageError)) throw e;
        }
        try {
          const o = parseNetexecArgs(argv);
          expect(o.httpPort >= 0 && o.httpPort <= 65535 && (o.udpPort === -1 || (o.udpPort >= 0 && o.udpPort <= 65535)), JSON.stringify(o)).toBe(true);
        } catch (e) {
          if (!(e instanceof UsageError)) throw e;
        }
        const specs: Record<string, FlagSpec> = { ...NETEXEC_FLAGS, ...SERVE_HOSTNAME_FLAGS };
        try {
          const { flags } = parseFlags(argv, specs);
          for (const [k, v] of Object.entries(flags)) {
            const kind = specs[k]!.kind;
            expect(typeof v).toBe(kind === 'bool' ? 'boolean' : kind === 'string' ? 'string' : 'number');
            if (kind === 'int') expect(Number.isSafeInteger(v), `${k}=${v}`).toBe(true);
          }
        } catch (e) {
          if (!(e instanceof UsageError)) throw e;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('Go durations: a finite number or a UsageError', () => {
    const durArb = fc.oneof(fc.string({ maxLength: 12 }), fc.array(fc.constantFrom('1', '0', '.', '5', 'ms', 's', 'm', 'h', 'us', 'µs', 'ns', '-', '+', 'x'), { maxLength: 8 }).map((a) => a.join('')));
    fc.assert(
      fc.property(durArb, (s) => {
        try {
          expect(Number.isFinite(parseGoDuration(s))).toBe(true);
        } catch (e) {
          if (!(e instanceof UsageError)) throw e;
        }
      }),
      { numRuns: 300 },
    );
  });
});
