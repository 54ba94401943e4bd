// containerd's start-up watch: a process that is still inside execve (as containerd is, right after
// spawn: nsenter, then containerd, each exec'd) is never taken for one that exited; one that does exit
// is reported with its status and with what it wrote in this run only, not an earlier run's lines.
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnLogged } from './containerd-process.js';

const dir = mkdtempSync(join(tmpdir(), 'cnilab-ctrd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('containerd start-up watch', () => {
  it('a process in the middle of its exec chain is running, every time', async () => {
    const log = join(dir, 'exec.log');
    // Like `nsenter --net=… -- containerd --config …`: a second exec right after the first.
    const argv = ['sh', '-c', 'exec sh -c "sleep 0.3" cnilab-marker'];
    const procs = [];
    for (let i = 0; i < 40; i++) {
      const p = await spawnLogged(argv, log);
      // Checked at once and again while it execs: the moments the old /proc/PID/cmdline probe read
      // an empty command line and declared the process gone.
      expect(p.exit(), `spawn ${i}`).toBeUndefined();
      for (let k = 0; k < 20; k++) {
        await new Promise((r) => setImmediate(r));
        expect(p.exit(), `spawn ${i}, check ${k}`).toBeUndefined();
      }
      procs.push(p);
    }
    await expect.poll(() => procs.every((p) => p.exit()?.code === 0), { timeout: 10_000 }).toBe(true);
  });

  it('an exit during start-up comes with its status and its own output, not an earlier run\'s', async () => {
    const log = join(dir, 'fail.log');
    appendFileSync(log, 'an earlier run: all fine\n');
    const p = await spawnLogged(['sh', '-c', 'echo "level=info msg=starting"; echo "level=fatal msg=\\"failed to load config\\"" >&2; exit 1'], log);
    await expect.poll(() => p.exit(), { timeout: 10_000 }).toEqual({ code: 1, signal: null });
    expect(p.describeExit()).toBe('exited with code 1');
    expect(p.output()).toBe('level=info msg=starting\nlevel=fatal msg="failed to load config"');
    expect(readFileSync(log, 'utf8')).toMatch(/^an earlier run: all fine\n/); // appended, not truncated

    const killed = await spawnLogged(['sh', '-c', 'kill -9 $$'], log);
    await expect.poll(() => killed.exit(), { timeout: 10_000 }).toEqual({ code: null, signal: 'SIGKILL' });
    expect(killed.describeExit()).toBe('killed by SIGKILL');
    expect(killed.output()).toBe('');
  });
});
