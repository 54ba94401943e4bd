// The C entry point of the plugin: it forwards ADD/DEL/CHECK to the agent's /v1/cni/exec unchanged, and
// falls back to the Node.js plugin (same answers, same CNI error codes) whenever it cannot.
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../lib/exec/run.js';
import { REPO_ROOT } from '../../../lib/paths.js';

const SHIM = join(REPO_ROOT, 'bin/cni/cnilab');
let dir: string;
let server: Server;
let seen: Array<{ env: Record<string, string>; stdin: string }> = [];

function invoke(env: Record<string, string>, stdin: string) {
  return run([SHIM], { env: { PATH: process.env.PATH, ...env }, replaceEnv: true, input: stdin, allowFailure: true });
}

describe('CNI plugin C entry point', () => {
  beforeAll(async () => {
    if (!existsSync(SHIM)) await run(['make', '-s', '-C', join(REPO_ROOT, 'agent/cni/shim'), 'CC=clang']);
    dir = mkdtempSync(join(tmpdir(), 'cnilab-shim-'));
    // A stand-in agent that records what it was handed and answers like the real one.
    server = createServer(async (req, res) => {
      let body = '';
      for await (const c of req) body += c;
      seen.push(JSON.parse(body));
      const text = '{"cniVersion":"1.0.0","ips":[]}\n';
      res.writeHead(200, { 'x-cni-exit-code': '0', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
    await new Promise<void>((r) => server.listen(join(dir, 'agent.sock'), r));
  });
  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('forwards ADD with the CNI environment and the config byte for byte', async () => {
    seen = [];
    const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'cnilab', agentSocket: join(dir, 'agent.sock'), note: 'quote " back\\slash\ttab' });
    const r = await invoke({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_ARGS: 'K8S_POD_NAME=a;K8S_POD_NAMESPACE=x' }, conf);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('{"cniVersion":"1.0.0","ips":[]}\n');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.stdin).toBe(conf);
    expect(seen[0]!.env).toEqual({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_ARGS: 'K8S_POD_NAME=a;K8S_POD_NAMESPACE=x' });
  });

  it('falls back to the Node.js plugin for garbage, an absent agent and VERSION', async () => {
    seen = [];
    const garbage = await invoke({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0' }, '{not json');
    expect(garbage.code).toBe(1);
    expect(JSON.parse(garbage.stdout).code).toBe(6);
    const absent = await invoke(
      { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/proc/self/ns/net', CNI_IFNAME: 'eth0' },
      JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'cnilab', agentSocket: join(dir, 'nobody.sock') }),
    );
    expect(JSON.parse(absent.stdout).code).toBe(11);
    const version = await invoke({ CNI_COMMAND: 'VERSION' }, '');
    expect(JSON.parse(version.stdout).supportedVersions).toContain('1.0.0');
    expect(seen).toHaveLength(0);
  });
});
