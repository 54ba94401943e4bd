// cnilab-svc-ask against real loopback servers: what the services scenario's in-process probes give,
// made from the process's own namespace (as when exec'd in a pod): the answer, the peer, pipelined
// paths over one connection, UDP with the reply's source, a refusal's failure mode; bad targets refused.
import dgram from 'node:dgram';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedLoopbackPort, udpNamer } from '../../testing/loopback.js';
import { parseSvcTarget, svcAsk } from './svc-ask.js';

let web: http.Server;
let udp: dgram.Socket;
let closedPort: number;

beforeAll(async () => {
  // netexec's /hostname and /clientip.
  web = http.createServer((req, res) => res.end(req.url === '/clientip' ? `${req.socket.remoteAddress}:${req.socket.remotePort}` : 'web-a'));
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  udp = await udpNamer('web-u');
  closedPort = await closedLoopbackPort();
});

afterAll(() => {
  web.close();
  udp.close();
});

describe('cnilab-svc-ask', () => {
  it('asks count times over new connections: who answered and the peer the client saw', async () => {
    const port = (web.address() as AddressInfo).port;
    const t = parseSvcTarget(`tcp:127.0.0.1:${port}/hostname`);
    if (typeof t === 'string') throw new Error(t);
    const a = await svcAsk(t, 3, 1000);
    expect(a).toHaveLength(3);
    expect(a.every((x) => x.ok && x.answer === 'web-a' && x.peer === `127.0.0.1:${port}`)).toBe(true);
  });

  it('pipelines several paths over one connection (the backend and what it saw)', async () => {
    const port = (web.address() as AddressInfo).port;
    const t = parseSvcTarget(`tcp:127.0.0.1:${port}/hostname,/clientip`);
    if (typeof t === 'string') throw new Error(t);
    const [a] = await svcAsk(t, 1, 1000);
    expect(a!.ok).toBe(true);
    expect(a!.bodies?.[0]).toBe('web-a');
    expect(a!.bodies?.[1]).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('asks over UDP from an unconnected socket, the peer being the reply source; a refusal is named', async () => {
    const t = parseSvcTarget(`udp:127.0.0.1:${udp.address().port}`);
    if (typeof t === 'string') throw new Error(t);
    const [a] = await svcAsk(t, 1, 1000);
    expect(a).toMatchObject({ ok: true, answer: 'web-u', peer: `127.0.0.1:${udp.address().port}` });
    const closed = parseSvcTarget(`tcp:127.0.0.1:${closedPort}/`);
    if (typeof closed === 'string') throw new Error(closed);
    const [r] = await svcAsk(closed, 1, 1000);
    expect(r).toMatchObject({ ok: false, error: 'ECONNREFUSED', failure: 'RST' });
  });

  it('refuses a target it cannot make sense of', () => {
    expect(parseSvcTarget('sctp:1.2.3.4:80')).toMatch(/is not/);
    expect(parseSvcTarget('udp:1.2.3.4:53/x')).toMatch(/no path/);
    expect(parseSvcTarget('tcp:1.2.3.4:70000/')).toMatch(/out of range/);
    expect(parseSvcTarget('tcp:host.example:80/')).toMatch(/is not/);
    expect(parseSvcTarget('tcp:1.2.3.4:80')).toEqual({ protocol: 'tcp', host: '1.2.3.4', port: 80, paths: ['/'] });
  });
});
