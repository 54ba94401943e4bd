import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rideRestarts } from './ride-restarts.js';

const refused = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
const missing = () => new Error('not running');

describe('requests ride out a daemon restart', () => {
  it('repeats a refused request while the supervisor lives, until the new daemon answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ride-'));
    const sock = join(dir, 'control.sock');
    writeFileSync(sock, '');
    let calls = 0;
    const r = await rideRestarts('c', sock, async () => (++calls < 4 ? Promise.reject(refused()) : 'ok'), missing, { supervised: () => true });
    expect(r).toBe('ok');
    expect(calls).toBe(4);
    rmSync(dir, { recursive: true, force: true });
  });

  it('waits for a socket the new daemon has not created yet', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ride-'));
    const sock = join(dir, 'control.sock');
    setTimeout(() => writeFileSync(sock, ''), 250);
    expect(await rideRestarts('c', sock, async () => 'ok', missing, { supervised: () => true })).toBe('ok');
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails at once without a supervisor, on an error from a daemon, and after the bound', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ride-'));
    const sock = join(dir, 'control.sock');
    await expect(rideRestarts('c', sock, async () => 'ok', missing, { supervised: () => false })).rejects.toThrow('not running');
    writeFileSync(sock, '');
    await expect(rideRestarts('c', sock, () => Promise.reject(refused()), missing, { supervised: () => false })).rejects.toThrow('ECONNREFUSED');
    // A reset mid-request may have reached the daemon: never repeated.
    let calls = 0;
    const reset = () => (calls++, Promise.reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
    await expect(rideRestarts('c', sock, reset, missing, { supervised: () => true })).rejects.toThrow('hang up');
    expect(calls).toBe(1);
    const t0 = Date.now();
    await expect(rideRestarts('c', sock, () => Promise.reject(refused()), missing, { supervised: () => true, waitMs: 400 })).rejects.toThrow('ECONNREFUSED');
    expect(Date.now() - t0).toBeLessThan(5000);
    rmSync(dir, { recursive: true, force: true });
  });
});
