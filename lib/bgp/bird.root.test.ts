// birdc() over bird's control socket against a real bird2 and the real birdc program: the same text
// for the commands cnilab sends (birdc's greeting line aside), and refused commands refused by both.
// What it saves is measured by bench/idle-cpu-bench.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../exec/run.js';
import { birdc, birdFiles, startBird, stopBird } from './bird.js';

describe('bird control socket against a real bird', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cnilab-bird-real-'));
  const files = birdFiles(dir);
  beforeAll(async () => {
    // No kernel protocol: this bird touches no routing table of the host.
    writeFileSync(files.conf, 'router id 198.18.255.1;\nprotocol device {}\nprotocol static st1 { ipv4; route 198.18.200.0/24 unreachable; route 198.18.201.0/24 unreachable; }\n');
    await startBird(files);
  });
  afterAll(async () => {
    await stopBird(files);
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = async (args: string[]) => {
    const r = await run(['birdc', '-s', files.ctl, ...args], { allowFailure: true });
    return { code: r.code, text: r.stdout.replace(/^BIRD \S+ ready\.\n/, '') };
  };

  it('gives birdc\'s text for show protocols, show protocols all, show route count and configure', async () => {
    for (const args of [['show', 'protocols'], ['show', 'protocols', 'all', 'st1'], ['show', 'route', 'protocol', 'st1', 'count'], ['configure']]) {
      const want = await cli(args);
      expect(want.code).toBe(0);
      expect(await birdc(files.ctl, args), args.join(' ')).toBe(want.text);
    }
    expect(await birdc(files.ctl, ['show', 'route', 'protocol', 'st1', 'count'])).toMatch(/^2 of 2 routes/);
  });

  it('throws where birdc exits non-zero', async () => {
    expect((await cli(['show', 'protocols', 'nosuch'])).code).not.toBe(0);
    await expect(birdc(files.ctl, ['show', 'protocols', 'nosuch'])).rejects.toThrow(/bird refused/);
    expect((await cli(['show', 'route', 'for', 'notanaddress'])).code).not.toBe(0);
    await expect(birdc(files.ctl, ['show', 'route', 'for', 'notanaddress'])).rejects.toThrow(/bird refused/);
  });
});
