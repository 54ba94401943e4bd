// cnilab-whoami-many against real loopback servers: one line per target, in order, each what
// cnilab-whoami alone gives for it (responder, refusal, a malformed target).
import dgram from 'node:dgram';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedLoopbackPort, udpNamer } from '../../testing/loopback.js';
import { parseConnectArgs } from './connect.js';
import { whoami } from './whoami.js';
import { whoamiMany } from './whoami-many.js';

let tcp: net.Server;
let udp: dgram.Socket;
let closedPort: number;

beforeAll(async () => {
  // serve-hostname --tcp style: the server names itself on accept.
  tcp = net.createServer((s) => s.end('tcp-srv\n'));
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  udp = await udpNamer('udp-srv');
  closedPort = await closedLoopbackPort();
});

afterAll(() => {
  tcp.close();
  udp.close();
});

describe('cnilab-whoami-many', () => {
  it('gives each target, in order, what cnilab-whoami gives it', async () => {
    const tcpPort = (tcp.address() as AddressInfo).port;
    const udpPort = udp.address().port;
    const targets = [`tcp:127.0.0.1:${tcpPort}`, `tcp:127.0.0.1:${closedPort}`, `udp:127.0.0.1:${udpPort}`, 'sctp:127.0.0.1:80', 'nonsense'];
    const lines = await whoamiMany(['--timeout=1s', ...targets]);
    expect(lines.map((l) => l.target)).toEqual(targets);
    expect(lines[0]).toMatchObject({ code: 0, stdout: 'RESPONDER: tcp-srv\n' });
    expect(lines[2]).toMatchObject({ code: 0, stdout: 'RESPONDER: udp-srv\n' });
    const alone = await whoami(parseConnectArgs([`127.0.0.1:${closedPort}`, '--timeout=1s', '--protocol=tcp']));
    expect(lines[1]).toMatchObject({ code: alone.code, stderr: alone.stderr });
    expect(lines[1]!.stderr).toMatch(/^REFUSED/);
    expect(lines[3]).toMatchObject({ code: 1 });
    expect(lines[4]).toMatchObject({ code: 1, stderr: expect.stringMatching(/^UNKNOWN: target "nonsense"/) });
  });
});
