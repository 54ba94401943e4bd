import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { processAlive } from './proc.js';

describe('processAlive', () => {
  it('is true for a running process, false for a zombie (exited, not reaped) and for nonsense', async () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(undefined)).toBe(false);
    expect(processAlive(-1)).toBe(false);
    // A child that exits while its parent (a shell that execs sleep) never waits: a zombie.
    const sh = spawn('sh', ['-c', '(exit 0) & exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((r) => setTimeout(r, 300));
    const kids = (await import('node:fs')).readFileSync(`/proc/${sh.pid}/task/${sh.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    expect(kids.length).toBe(1);
    expect(() => process.kill(kids[0]!, 0)).not.toThrow(); // kill() still finds it
    expect(processAlive(kids[0])).toBe(false);
    sh.kill('SIGKILL');
  });
});
