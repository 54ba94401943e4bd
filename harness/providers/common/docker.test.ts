// Capability detection for kind and K3s: a Docker engine is asked itself (GET /_ping); without one,
// `cnilab up --provider kind|k3s` is unsupported (exit 3) and creates nothing. A stand-in engine shows
// the check can pass, so "unsupported" is a finding, not a constant.
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../exec/run.js';
import { CNILAB, leftovers } from '../../testing/cli.js';
import { checkDockerEngine, dockerEndpoint } from './docker.js';
import { preflight as kindPreflight } from '../kind/preflight.js';
import { preflight as k3sPreflight } from '../k3s/preflight.js';

let dir: string;
let engine: Server;
let pings = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cnilab-docker-'));
  engine = createServer((req, res) => {
    if (req.url === '/_ping') pings++;
    res.writeHead(req.url === '/_ping' ? 200 : 404, { 'content-type': 'text/plain' });
    res.end(req.url === '/_ping' ? 'OK' : 'no');
  });
  await new Promise<void>((r) => engine.listen(join(dir, 'docker.sock'), r));
});
afterAll(() => {
  engine.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Docker engine detection', () => {
  it('reads DOCKER_HOST as the docker CLI does', () => {
    expect(dockerEndpoint({})).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(dockerEndpoint({ DOCKER_HOST: 'unix:///x/d.sock' })).toEqual({ socketPath: '/x/d.sock' });
    expect(dockerEndpoint({ DOCKER_HOST: 'tcp://127.0.0.1:2376' })).toEqual({ host: '127.0.0.1', port: 2376 });
  });
  it('finds an engine that answers /_ping, and none where nothing listens', async () => {
    expect(await checkDockerEngine({ DOCKER_HOST: `unix://${join(dir, 'docker.sock')}` })).toMatchObject({ ok: true });
    expect(pings).toBe(1);
    const none = await checkDockerEngine({ DOCKER_HOST: `unix://${join(dir, 'absent.sock')}` });
    expect(none).toMatchObject({ ok: false, reason: 'ENOENT' });
  });
  it('with an engine, kind still needs its CLI; K3s needs nothing more', async () => {
    const env = { DOCKER_HOST: `unix://${join(dir, 'docker.sock')}`, PATH: '/nonexistent' };
    const savedPath = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(kindPreflight(env)).rejects.toThrow('unsupported: kind (needs the kind CLI on PATH)');
    } finally {
      process.env.PATH = savedPath;
    }
    await expect(k3sPreflight(env)).resolves.toBeUndefined();
    await expect(k3sPreflight({ DOCKER_HOST: `unix://${join(dir, 'absent.sock')}` })).rejects.toThrow('unsupported: k3s (needs a Docker engine)');
  });
});

describe('cnilab up --provider kind|k3s without a Docker engine', () => {
  for (const provider of ['kind', 'k3s']) {
    it(`${provider}: prints "unsupported: ${provider} (needs a Docker engine)", exits 3, creates nothing`, async () => {
      const name = `prov-${provider}`;
      const r = await run([CNILAB, 'up', '--provider', provider, '--name', name], { env: { DOCKER_HOST: `unix://${join(dir, 'absent.sock')}` }, allowFailure: true, timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain(`unsupported: ${provider} (needs a Docker engine)`);
      expect(existsSync(`/run/cnilab/${name}`)).toBe(false);
      expect(await leftovers(name)).toEqual([]);
    });
  }
  it('an unknown provider is bad input (exit 2)', async () => {
    const r = await run([CNILAB, 'up', '--provider', 'minikube', '--name', 'prov-bad'], { allowFailure: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--provider');
  });
});
