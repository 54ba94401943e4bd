// bird's control protocol, spoken by birdc() without the birdc program: replies framed by code, split
// anywhere by the socket, refusals, a bird that hangs up or never answers (a fake bird on a unix
// socket; bird.root.test.ts checks the same against a real bird and the real birdc).
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { birdc, parseBirdReplyLine } from './bird.js';

const dirs: string[] = [];
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A fake bird: greets, then answers each command line with what `answer` returns, written in
 *  pieces of `chunk` bytes (undefined: hang up without a word). */
async function fakeBird(answer: (cmd: string) => string | undefined, chunk = 7): Promise<{ sock: string; commands: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'cnilab-bird-'));
  dirs.push(dir);
  const sock = join(dir, 'bird.ctl');
  const commands: string[] = [];
  const server = createServer((c: Socket) => {
    c.write('0001 BIRD 2.0.12 ready.\n');
    let buf = '';
    c.on('data', (d) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const cmd = buf.slice(0, nl);
      commands.push(cmd);
      const reply = answer(cmd);
      if (reply === undefined) return void c.destroy();
      for (let i = 0; i < reply.length; i += chunk) c.write(reply.slice(i, i + chunk));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(sock, r));
  return { sock, commands };
}

describe('bird control socket', () => {
  it('reads reply lines as birdc prints them', () => {
    expect(parseBirdReplyLine('1002-device1    Device')).toEqual({ code: 1002, text: 'device1    Device', last: false });
    expect(parseBirdReplyLine(' st1        Static')).toEqual({ text: 'st1        Static', last: false });
    expect(parseBirdReplyLine('0000 ')).toEqual({ code: 0, last: true });
    expect(parseBirdReplyLine('0003 Reconfigured')).toEqual({ code: 3, text: 'Reconfigured', last: true });
    expect(parseBirdReplyLine(' ')).toEqual({ text: '', last: false });
  });

  it('sends the command after the greeting and returns the reply, however the socket splits it', async () => {
    const reply = '2002-Name       Proto      Table      State  Since         Info\n1002-device1    Device     ---        up     21:25:25.177  \n st1        Static     master4    up     21:25:25.177  \n0000 \n';
    for (const chunk of [1, 5, 1000]) {
      const bird = await fakeBird(() => reply, chunk);
      const out = await birdc(bird.sock, ['show', 'protocols']);
      expect(bird.commands).toEqual(['show protocols']);
      expect(out).toBe('Name       Proto      Table      State  Since         Info\ndevice1    Device     ---        up     21:25:25.177  \nst1        Static     master4    up     21:25:25.177  \n');
    }
  });

  it('throws when bird refuses the command, hangs up, is not there, or does not answer in time', async () => {
    const refusing = await fakeBird(() => '9001 syntax error, unexpected CF_SYM_UNDEFINED\n');
    await expect(birdc(refusing.sock, ['show', 'foo'])).rejects.toThrow(/bird refused "show foo": syntax error/);
    const failing = await fakeBird(() => '8001-Protocol is down\n0000 \n');
    await expect(birdc(failing.sock, ['disable', 'x'])).rejects.toThrow(/Protocol is down/);
    const hanging = await fakeBird(() => undefined);
    await expect(birdc(hanging.sock, ['show', 'status'])).rejects.toThrow(/closed its control socket .* before answering "show status"/);
    await expect(birdc(join(tmpdir(), `no-bird-${process.pid}.ctl`), ['show', 'status'])).rejects.toThrow(/bird control socket .*ENOENT/);
    const mute = await fakeBird(() => '');
    await expect(birdc(mute.sock, ['show', 'status'], 200)).rejects.toThrow(/timed out after 200 ms waiting for bird/);
  });

  it('refuses a command of more than one line (it would be two commands)', async () => {
    const bird = await fakeBird(() => '0000 \n');
    await expect(birdc(bird.sock, ['show status\ndown'])).rejects.toThrow(/one line/);
    expect(bird.commands).toEqual([]);
  });
});
