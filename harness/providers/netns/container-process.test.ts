// A container's log is complete when its exit is recorded: a process that writes a burst and exits at
// once, many times over, and every time the log file already holds every line when `exited` resolves
// (what kubectl logs after phase Succeeded relies on). Also: a background process the container left
// holding its stdout does not keep the exit from being recorded.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { containerLogPath, parseCriLine } from './container-log.js';
import { startContainerProcess } from './container-process.js';
import { processAlive } from '../../exec/proc.js';

const dir = mkdtempSync(join(tmpdir(), 'cnilab-ctrlog-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
const logLines = (name: string) =>
  readFileSync(containerLogPath(dir, name), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => parseCriLine(l)!.text);

describe('container process log', () => {
  it('holds all of the output, stdout and stderr, by the time the exit is recorded', async () => {
    const N = 400;
    const script = `i=0; while [ $i -lt ${N} ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done; echo done; exit 0`;
    for (let run = 0; run < 40; run++) {
      const name = `burst${run}`;
      const c = startContainerProcess(['sh', '-c', script], { env, logDir: dir, container: name });
      expect(await c.exited).toEqual({ code: 0, signal: null });
      const lines = logLines(name);
      expect(lines.at(-1) === 'done' || lines.includes('done'), `run ${run}: 'done' missing from ${lines.length} lines`).toBe(true);
      expect(lines.filter((l) => l.startsWith('out ')).length, `run ${run}`).toBe(N);
      expect(lines.filter((l) => l.startsWith('err ')).length, `run ${run}`).toBe(N);
    }
  });

  it('a background process holding stdout dies with the container instead of holding its exit back', async () => {
    const c = startContainerProcess(['sh', '-c', 'sleep 300 & echo "bg $!"; echo bye'], { env, logDir: dir, container: 'bg' });
    expect(await c.exited).toEqual({ code: 0, signal: null });
    const lines = logLines('bg');
    expect(lines).toEqual([expect.stringMatching(/^bg \d+$/), 'bye']);
    const pid = Number(lines[0]!.split(' ')[1]);
    await expect.poll(() => processAlive(pid)).toBe(false);
  });
});

describe('container log writer', () => {
  it('output after close is dropped, not an uncaught write-after-end error in the daemon', async () => {
    const { ContainerLogWriter } = await import('./container-log.js');
    const w = new ContainerLogWriter(dir, 'late');
    w.write('stdout', 'before\n');
    let uncaught: unknown;
    const onUncaught = (e: unknown) => (uncaught = e);
    process.on('uncaughtException', onUncaught);
    try {
      // While the file is still being closed (after that, Node drops a write to a destroyed stream).
      const closing = w.close();
      w.write('stdout', 'after\n');
      await closing;
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toBeUndefined();
    expect(logLines('late')).toEqual(['before']);
  });
});
