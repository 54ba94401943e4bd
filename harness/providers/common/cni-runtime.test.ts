// The runtime's side of CNI against stand-in plugins (shell scripts that log every call): retries of
// code 11, the DEL after a failed ADD, and STATUS/GC sent only to 1.1.0 conflists.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cniAdd, cniDel, cniGc, cniStatus, CniPluginError, type CniConfList, type CniInvocation } from './cni-runtime.js';

let dir: string;
let log: string;

// A plugin that appends "<type> <command> <container>/<ifname> <stdin>" to the log, then behaves as
// its config says: fail N times with a code (counted in a file), or always fail, or succeed.
const plugin = (logFile: string) => `#!/bin/bash
LOG=${logFile}
conf=$(cat)
type=$(basename "$0")
echo "$type $CNI_COMMAND \${CNI_CONTAINERID:-}/\${CNI_IFNAME:-} $conf" >> "$LOG"
failCmd=$(echo "$conf" | sed -n 's/.*"failOn":"\\([A-Z]*\\)".*/\\1/p')
code=$(echo "$conf" | sed -n 's/.*"code":\\([0-9]*\\).*/\\1/p')
times=$(echo "$conf" | sed -n 's/.*"times":\\([0-9]*\\).*/\\1/p')
if [ "$failCmd" = "$CNI_COMMAND" ]; then
  n=$(cat "$LOG.$type.count" 2>/dev/null || echo 0)
  if [ -z "$times" ] || [ "$n" -lt "$times" ]; then
    echo $((n+1)) > "$LOG.$type.count"
    echo "{\\"cniVersion\\":\\"1.1.0\\",\\"code\\":$code,\\"msg\\":\\"$type says no\\"}"
    exit 1
  fi
fi
if [ "$CNI_COMMAND" = ADD ]; then
  echo '{"cniVersion":"1.1.0","interfaces":[{"name":"eth0","sandbox":"/n"}],"ips":[{"address":"198.19.1.9/32","interface":0}]}'
fi
exit 0
`;

const calls = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => l.split(' ').slice(0, 3).join(' ')) : []);
const stdinOf = (n: number) => JSON.parse(readFileSync(log, 'utf8').trim().split('\n')[n]!.split(' ').slice(3).join(' '));
const reset = () => {
  rmSync(log, { force: true });
  for (const t of ['alpha', 'beta']) rmSync(`${log}.${t}.count`, { force: true });
};
const inv = (): CniInvocation => ({ containerId: 'ctr1', netns: '/proc/self/ns/net', ifname: 'eth0', cniPath: [dir], retry: { firstDelayMs: 5 } });
const list = (version: string, alpha: Record<string, unknown> = {}, beta: Record<string, unknown> = {}): CniConfList => ({
  cniVersion: version,
  name: 'rt-test',
  plugins: [{ type: 'alpha', ...alpha }, { type: 'beta', ...beta }],
});

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cnilab-rt-'));
  log = join(dir, 'calls.log');
  for (const t of ['alpha', 'beta']) {
    writeFileSync(join(dir, t), plugin(log));
    chmodSync(join(dir, t), 0o755);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('CNI runtime side', () => {
  it('ADD runs the chain in order, passing prevResult along', async () => {
    reset();
    await cniAdd(list('1.1.0'), inv());
    expect(calls()).toEqual(['alpha ADD ctr1/eth0', 'beta ADD ctr1/eth0']);
    expect(stdinOf(1).prevResult.ips[0].address).toBe('198.19.1.9/32');
  });

  it('retries a plugin that answers 11, then goes on', async () => {
    reset();
    const retried: number[] = [];
    await cniAdd(list('1.1.0', { failOn: 'ADD', code: 11, times: 2 }), { ...inv(), onRetry: (_e, n) => retried.push(n) });
    expect(calls()).toEqual(['alpha ADD ctr1/eth0', 'alpha ADD ctr1/eth0', 'alpha ADD ctr1/eth0', 'beta ADD ctr1/eth0']);
    expect(retried).toEqual([1, 2]);
  });

  it('gives up after the last attempt of 11, and does not retry other codes', async () => {
    reset();
    const e = await cniAdd(list('1.1.0', { failOn: 'ADD', code: 11 }), { ...inv(), retry: { attempts: 3, firstDelayMs: 1 } }).catch((x) => x);
    expect(e).toBeInstanceOf(CniPluginError);
    expect(e.cniCode).toBe(11);
    expect(calls().filter((c) => c === 'alpha ADD ctr1/eth0')).toHaveLength(3);
    reset();
    await cniAdd(list('1.1.0', { failOn: 'ADD', code: 7 }), inv()).catch(() => undefined);
    expect(calls().filter((c) => c.includes('ADD'))).toEqual(['alpha ADD ctr1/eth0']);
  });

  it('calls DEL on the whole chain, in reverse, after a failed ADD, and throws the ADD error', async () => {
    reset();
    const e = await cniAdd(list('1.1.0', {}, { failOn: 'ADD', code: 999 }), inv()).catch((x) => x);
    expect(e.message).toContain('CNI ADD by plugin "beta" failed (code 999): beta says no');
    expect(calls()).toEqual(['alpha ADD ctr1/eth0', 'beta ADD ctr1/eth0', 'beta DEL ctr1/eth0', 'alpha DEL ctr1/eth0']);
  });

  it('says in the ADD error when the DEL after it failed too', async () => {
    reset();
    const e = await cniAdd(list('1.1.0', { failOn: 'DEL', code: 999 }, { failOn: 'ADD', code: 999 }), inv()).catch((x) => x);
    expect(e.message).toContain('CNI ADD by plugin "beta"');
    expect(e.detail).toContain('DEL after the failed ADD also failed');
  });

  it('DEL retries 11 too and reports the first failure after trying every plugin', async () => {
    reset();
    await cniDel(list('1.1.0', { failOn: 'DEL', code: 11, times: 1 }), inv());
    expect(calls()).toEqual(['beta DEL ctr1/eth0', 'alpha DEL ctr1/eth0', 'alpha DEL ctr1/eth0']);
  });

  it('sends STATUS and GC to a 1.1.0 conflist, without container environment', async () => {
    reset();
    expect(await cniStatus(list('1.1.0'), { cniPath: [dir] })).toBe('ready');
    const valid = [{ containerID: 'ctr1', ifname: 'eth0' }];
    expect(await cniGc(list('1.1.0'), { cniPath: [dir] }, valid)).toBe('done');
    expect(calls()).toEqual(['alpha STATUS /', 'beta STATUS /', 'alpha GC /', 'beta GC /']);
    expect(stdinOf(2)['cni.dev/valid-attachments']).toEqual(valid);
  });

  it('sends neither to a 1.0.0 conflist', async () => {
    reset();
    expect(await cniStatus(list('1.0.0'), { cniPath: [dir] })).toBe('not-sent');
    expect(await cniGc(list('1.0.0'), { cniPath: [dir] }, [])).toBe('not-sent');
    expect(calls()).toEqual([]);
  });

  it('reports a plugin that is not ready (50) from STATUS', async () => {
    reset();
    const e = await cniStatus(list('1.1.0', {}, { failOn: 'STATUS', code: 50 }), { cniPath: [dir] }).catch((x) => x);
    expect(e).toBeInstanceOf(CniPluginError);
    expect(e.cniCode).toBe(50);
  });
});
