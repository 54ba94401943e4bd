// The agent's API under random input (it is reachable by anything on the host, pods included):
// random methods, paths and bodies, the CNI exec route with random environments and configs, raw
// malformed bytes. The agent must answer every request with JSON and keep serving; an exception
// escaping the handler used to end the agent (GET // threw before the handler's try).
import net from 'node:net';
import { request, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startAgentServer, stopAgentServer, type AgentApi } from './server.js';
import type { CniRequest } from '../cni/protocol.js';
import { testTempDir } from '../../lib/testing/temp-dir.js';

const socket = join(testTempDir('agent-fuzz-'), 'agent.sock');
const received: CniRequest[] = [];
const api: AgentApi = {
  healthz: () => ({ ok: true, node: 'n1', endpoints: 0 }),
  endpoints: () => [],
  identities: () => [],
  ipcache: () => [],
  maps: () => ({ counters: [1n] }),
  flows: (last) => ({ flows: [], last }),
  cniAdd: async (req) => {
    received.push(req);
    return { cniVersion: '1.0.0', interfaces: [], ips: [], routes: [], dns: {} };
  },
  cniDel: async (req) => void received.push(req),
  cniCheck: async (req) => void received.push(req),
};
let server: Server;
beforeAll(async () => {
  server = await startAgentServer(socket, api, () => undefined);
});
afterAll(() => stopAgentServer(server, socket));

function call(method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method, path, agent: false }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    // A server that closes on a malformed request line answers with a closed connection (EPIPE).
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? resolve({ status: 0, text: '' }) : reject(e)));
    req.end(body);
  });
}

const ROUTES = ['/v1/healthz', '/v1/endpoints', '/v1/identities', '/v1/ipcache', '/v1/maps', '/v1/flows', '/v1/cni/add', '/v1/cni/del', '/v1/cni/check', '/v1/cni/exec'];
const pathArb = fc.oneof(
  fc.tuple(fc.constantFrom(...ROUTES), fc.constantFrom('', '?last=5', '?last=-1', '?last=abc', '?last=1e99', '?%zz')).map(([r, q]) => r + q),
  fc.constantFrom('//', '/', '*', '/%zz', '/v1/%zz', '//v1/healthz', '/v1/cni/'),
  fc.string({ maxLength: 20 }).map((s) => `/${encodeURIComponent(s)}`),
);
const cniBody = fc.record({ containerId: fc.oneof(fc.string(), fc.jsonValue()), netns: fc.jsonValue(), ifname: fc.jsonValue(), env: fc.oneof(fc.dictionary(fc.constantFrom('CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_NETNS'), fc.constantFrom('ADD', 'DEL', 'x', '/proc/self/ns/net', 'eth0')), fc.jsonValue()), stdin: fc.oneof(fc.string(), fc.jsonValue().map((v) => JSON.stringify(v)), fc.jsonValue()) }, { requiredKeys: [] });
const bodyArb = fc.option(fc.oneof(cniBody.map((b) => JSON.stringify(b)), fc.jsonValue().map((v) => JSON.stringify(v)), fc.string({ maxLength: 40 })), { nil: undefined });

describe('agent API under random input', () => {
  it('every request gets a JSON answer (4xx/5xx carry an error) and the agent keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'), pathArb, bodyArb, async (method, path, body) => {
        const r = await call(method, path, body);
        const parsed = JSON.parse(r.text || '{}');
        // Our handler's errors carry a message; a bare 400 is Node's HTTP layer refusing the bytes.
        if (r.status >= 400 && r.text) expect(parsed.error ?? parsed.msg, `${method} ${path} -> ${r.status} ${r.text}`).toBeDefined();
      }),
      { numRuns: 400 },
    );
    expect((await call('GET', '/v1/healthz')).status).toBe(200);
    for (const r of received) expect(typeof r).toBe('object');
  });

  it('raw malformed bytes and an oversized body: an error reply or a closed connection', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)), async (bytes) => {
        await new Promise<void>((resolve) => {
          const s = net.connect(socket);
          s.on('close', () => resolve());
          s.on('error', () => resolve());
          // The server may keep a half-sent request open until its own timeout: we only need it to live.
          setTimeout(() => s.destroy(), 100);
          s.end(bytes);
        });
      }),
      { numRuns: 30 },
    );
    const big = await call('POST', '/v1/cni/add', ' '.repeat(2 * 1024 * 1024));
    expect(big.status).toBe(400);
    expect(JSON.parse(big.text).msg).toMatch(/larger than/);
    expect((await call('GET', '/v1/healthz')).status).toBe(200);
  });
});
