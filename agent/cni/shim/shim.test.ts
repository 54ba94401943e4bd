// The C entry point of the plugin: it forwards ADD/DEL/CHECK to the agent's /v1/cni/exec unchanged, and
// falls back to the Node.js plugin (same answers, same CNI error codes) whenever it cannot.
import { createServer, type Server } from 'node:http';
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
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

  const conf = (sock: string, extra: Record<string, unknown> = {}) => JSON.stringify({ cniVersion: '1.1.0', name: 'n', type: 'cnilab', agentSocket: join(dir, sock), ...extra });
  const addEnv = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/proc/self/ns/net', CNI_IFNAME: 'eth0' };

  it('answers 11 when the agent takes the connection but never answers (agentTimeoutMs)', async () => {
    const held: Socket[] = [];
    const mute: NetServer = createNetServer((c) => held.push(c));
    await new Promise<void>((r) => mute.listen(join(dir, 'mute.sock'), r));
    try {
      const t0 = Date.now();
      const r = await invoke(addEnv, conf('mute.sock', { agentTimeoutMs: 300 }));
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toEqual({ cniVersion: '1.1.0', code: 11, msg: 'cnilab agent did not answer in time (agentTimeoutMs)' });
      expect(Date.now() - t0).toBeLessThan(10_000); // bounded, not hung (the 20 s test timeout is the real guard)
    } finally {
      for (const c of held) c.destroy();
      mute.close();
    }
  });

  it('answers 11 when the agent does not accept the connection (agentConnectTimeoutMs)', async () => {
    // A listener with a backlog of 1 that never accepts (perl-base is in every Debian): two queued
    // connections fill it (the kernel queues backlog + 1), so the plugin's connect has to wait.
    const sock = join(dir, 'full.sock');
    const script = `$| = 1; my $s = IO::Socket::UNIX->new(Local => '${sock}', Listen => 1) or die; print "ready\\n"; sleep 60`;
    const listener: ChildProcess = spawn('perl', ['-MIO::Socket::UNIX', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((r) => listener.stdout!.once('data', () => r()));
    const fillers = [connect(sock), connect(sock)];
    await Promise.all(fillers.map((f) => new Promise<void>((r) => f.once('connect', () => r()))));
    try {
      const r = await invoke(addEnv, conf('full.sock', { agentConnectTimeoutMs: 200 }));
      expect(JSON.parse(r.stdout)).toMatchObject({ code: 11, msg: expect.stringContaining('did not accept the connection') });
    } finally {
      for (const f of fillers) f.destroy();
      listener.kill('SIGKILL');
    }
  });

  it('answers 11 when the agent dies in the middle of the request (closed without an answer)', async () => {
    // As an agent SIGKILLed during an ADD: the connection was taken, the request read, then it ends.
    const dying: NetServer = createNetServer((c) => c.once('data', () => c.destroy()));
    await new Promise<void>((r) => dying.listen(join(dir, 'dying.sock'), r));
    try {
      const r = await invoke(addEnv, conf('dying.sock'));
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toEqual({ cniVersion: '1.1.0', code: 11, msg: 'cnilab agent closed the connection without answering (restarting?)' });
    } finally {
      dying.close();
    }
  });

  it('an agent that half answers (headers cut off) is 11 too; a whole non-CNI answer stays 999', async () => {
    const half: NetServer = createNetServer((c) => c.once('data', () => c.end('HTTP/1.1 200 OK\r\nx-cni-exit')));
    const odd = createServer((req, res) => {
      req.resume();
      res.writeHead(500).end('nope');
    });
    await new Promise<void>((r) => half.listen(join(dir, 'half.sock'), r));
    await new Promise<void>((r) => odd.listen(join(dir, 'odd.sock'), r));
    try {
      expect(JSON.parse((await invoke(addEnv, conf('half.sock'))).stdout)).toMatchObject({ code: 11 });
      expect(JSON.parse((await invoke(addEnv, conf('odd.sock'))).stdout)).toMatchObject({ code: 999, msg: expect.stringContaining('not a CNI answer') });
    } finally {
      half.close();
      odd.close();
    }
  });

  it('ADD waits (up to agentConnectTimeoutMs) for a restarting agent\'s socket to appear; STATUS does not', async () => {
    seen = [];
    const late = join(dir, 'late.sock');
    let lateServer: Server | undefined;
    const appear = setTimeout(() => {
      lateServer = createServer(async (req, res) => {
        let body = '';
        for await (const c of req) body += c;
        seen.push(JSON.parse(body));
        res.writeHead(200, { 'x-cni-exit-code': '0' }).end('{"cniVersion":"1.1.0","ips":[]}\n');
      }).listen(late);
    }, 400);
    try {
      const r = await invoke(addEnv, conf('late.sock', { agentConnectTimeoutMs: 5000 }));
      expect(r.code).toBe(0);
      expect(seen.map((s) => s.env.CNI_COMMAND)).toEqual(['ADD']); // the agent answered, not the Node.js fallback
      // Without the socket and with no time to wait, the answer is 11 (through the fallback).
      const gone = await invoke(addEnv, conf('never.sock', { agentConnectTimeoutMs: 100 }));
      expect(JSON.parse(gone.stdout)).toMatchObject({ code: 11 });
      // STATUS is not made to wait: a missing agent is "not available" (50) at once.
      const t0 = Date.now();
      const status = await invoke({ CNI_COMMAND: 'STATUS' }, conf('never.sock', { agentConnectTimeoutMs: 60_000 }));
      expect(JSON.parse(status.stdout)).toMatchObject({ code: 50 });
      expect(Date.now() - t0).toBeLessThan(30_000); // not the 60 s connect bound (the test timeout is 20 s)
    } finally {
      clearTimeout(appear);
      lateServer?.close();
    }
  });

  it('refuses a config larger than 1 MiB with error 7, forwarding nothing', async () => {
    seen = [];
    const r = await invoke(addEnv, conf('agent.sock', { pad: 'x'.repeat((1 << 20) + 1) }));
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ code: 7, msg: expect.stringContaining('larger than 1048576') });
    expect(seen).toHaveLength(0);
    // Exactly at the limit is still read whole (and answered by the agent).
    const base = conf('agent.sock', { pad: '' });
    const exact = conf('agent.sock', { pad: 'x'.repeat((1 << 20) - base.length) });
    expect(exact.length).toBe(1 << 20);
    expect((await invoke(addEnv, exact)).code).toBe(0);
    expect(seen[0]!.stdin).toBe(exact);
  });

  it('refuses a config with a NUL byte (6) rather than forwarding part of it', async () => {
    seen = [];
    const r = await invoke(addEnv, `${conf('agent.sock')}\u0000{"more":1}`);
    expect(JSON.parse(r.stdout)).toMatchObject({ code: 6 });
    expect(seen).toHaveLength(0);
  });

  it('refuses an agent answer larger than 1 MiB (999) instead of printing part of it', async () => {
    const huge = createServer((req, res) => {
      req.resume();
      const text = `{"pad":"${'y'.repeat(1 << 20)}"}`;
      res.writeHead(200, { 'x-cni-exit-code': '0', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
    await new Promise<void>((r) => huge.listen(join(dir, 'huge.sock'), r));
    try {
      const r = await invoke(addEnv, conf('huge.sock'));
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toMatchObject({ code: 999, msg: expect.stringContaining('larger than 1 MiB') });
    } finally {
      huge.close();
    }
  });

  it('installed alone (no cnilab-node, as the DaemonSet installs it): VERSION answered, no agent → 11', async () => {
    const alone = join(dir, 'alone');
    mkdirSync(alone);
    copyFileSync(SHIM, join(alone, 'cnilab'));
    chmodSync(join(alone, 'cnilab'), 0o755);
    const run1 = (env: Record<string, string>, stdin: string) => run([join(alone, 'cnilab')], { env: { PATH: process.env.PATH, ...env }, replaceEnv: true, input: stdin, allowFailure: true });
    const v = await run1({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}');
    expect(JSON.parse(v.stdout)).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
    const r = await run1(addEnv, conf('nobody.sock'));
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ code: 11 });
  });

  it('forwards STATUS and GC to the agent too (no Node.js start)', async () => {
    seen = [];
    for (const cmd of ['STATUS', 'GC']) expect((await invoke({ CNI_COMMAND: cmd }, conf('agent.sock'))).code).toBe(0);
    expect(seen.map((s) => s.env.CNI_COMMAND)).toEqual(['STATUS', 'GC']);
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
