// Property tests of the control-plane API, over a real unix socket: random methods, paths and JSON
// bodies to every route, raw malformed bytes, and batches of random objects. Properties: the daemon
// never answers 5xx to bad input (a 4xx with a message instead), never dies, and a refused apply
// changes nothing (no partial batch, same resourceVersion).
import { request, type Server } from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ObjectStore } from './store.js';
import { startControlServer } from './server.js';
import { resolveSpec } from './spec.js';
import { LIMITS } from './limits.js';
import type { KubeObject } from './objects.js';
import { testTempDir } from '../../lib/testing/temp-dir.js';

const socket = join(testTempDir('cp-fuzz-'), 'control.sock');
const store = new ObjectStore();
let server: Server;

beforeAll(async () => {
  store.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } } as KubeObject]);
  server = await startControlServer(socket, store, resolveSpec({}, 'test'), { onShutdown: () => undefined });
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

interface Reply {
  status: number;
  text: string;
}

function call(method: string, path: string, body?: string | Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method, path, agent: false, headers: body === undefined ? {} : { 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** 2xx with JSON, or 4xx with {error: {message}}; never 5xx. */
function expectSane(r: Reply, what: string): void {
  expect(r.status, `${what} -> ${r.status} ${r.text.slice(0, 300)}`).toBeLessThan(500);
  const body = JSON.parse(r.text || '{}');
  if (r.status >= 400) expect(typeof body.error?.message === 'string' && body.error.message.length > 0, `${what}: ${r.text}`).toBe(true);
}

async function healthy(): Promise<void> {
  expect((await call('GET', '/v1/healthz')).status).toBe(200);
}

const KINDS = ['Pod', 'Namespace', 'Service', 'NetworkPolicy', 'CiliumNetworkPolicy', 'Node', 'CiliumEndpoint', 'CiliumIdentity', 'Nope', ''];
const segment = fc.oneof(fc.constantFrom(...KINDS, 'default', '-', 'x', '%zz', '%2F', '..', '.', 'a%00b', '__proto__', 'constructor'), fc.string({ maxLength: 8 }).map(encodeURIComponent));
const pathArb = fc.oneof(
  fc.tuple(fc.constantFrom('healthz', 'cluster', 'objects', 'apply', 'status', 'identities', 'watch', 'agents', 'nope', ''), fc.array(segment, { maxLength: 4 })).map(([r, rest]) => `/v1/${[r, ...rest].join('/')}`),
  fc.constantFrom('/', '//', '/v1', '/v2/healthz', '*', '/v1/objects/Pod?namespace=%zz', '/v1/%zz', '//v1//healthz'),
);
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];
// Objects: valid ones, near-valid ones, and noise.
const podArb = fc.record({
  apiVersion: fc.constantFrom('v1', 'v2'),
  kind: fc.constantFrom('Pod', 'Namespace', 'Service'),
  metadata: fc.record({ name: fc.constantFrom('a', 'b', 'Bad_Name', '', 'x'.repeat(70)), namespace: fc.constantFrom('default', 'missing', undefined as unknown as string) }, { requiredKeys: ['name'] }),
  spec: fc.oneof(
    fc.record({ containers: fc.array(fc.record({ name: fc.constantFrom('c', 'd'), image: fc.constantFrom('agnhost', '') }), { maxLength: 3 }) }),
    fc.record({ ports: fc.array(fc.record({ port: fc.integer({ min: -1, max: 70000 }) }), { maxLength: 2 }) }),
    fc.jsonValue(),
  ),
}, { requiredKeys: ['kind'] });
const validArb = fc.oneof(
  fc.record({ apiVersion: fc.constant('v1'), kind: fc.constant('Namespace'), metadata: fc.record({ name: fc.constantFrom('n1', 'n2', 'default') }) }),
  fc.record({
    apiVersion: fc.constant('v1'),
    kind: fc.constant('Pod'),
    metadata: fc.record({ name: fc.constantFrom('p1', 'p2', 'p3'), namespace: fc.constant('default'), labels: fc.dictionary(fc.constantFrom('app', 'x'), fc.constantFrom('a', 'b'), { maxKeys: 2 }) }),
    spec: fc.record({ containers: fc.constant([{ name: 'c', image: 'registry.k8s.io/e2e-test-images/agnhost:2.47', args: ['pause'] }]) }),
  }),
);
const objectArb = fc.oneof({ weight: 4, arbitrary: validArb as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: podArb }, { weight: 1, arbitrary: fc.jsonValue() });
const bodyArb = fc.oneof(
  fc.record({ objects: fc.oneof(fc.array(objectArb, { maxLength: 5 }), fc.jsonValue()), internal: fc.oneof(fc.boolean(), fc.jsonValue()) }, { requiredKeys: [] }),
  fc.record({ status: fc.oneof(fc.jsonValue(), fc.record({ phase: fc.constantFrom('Running', 'Failed') })) }, { requiredKeys: [] }),
  fc.record({ labels: fc.oneof(fc.array(fc.jsonValue(), { maxLength: 5 }), fc.jsonValue()) }, { requiredKeys: [] }),
  fc.jsonValue(),
).map((v) => JSON.stringify(v));
const rawBody = fc.oneof(bodyArb, fc.string({ maxLength: 50 }), fc.constant(''), fc.constant('{"objects":['));

describe('control-plane API under random input', () => {
  it('random method, path and body: a JSON reply, 4xx with a message for bad input, never 5xx; the daemon keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...METHODS), pathArb, fc.option(rawBody, { nil: undefined }), async (method, path, body) => {
        if (path.startsWith('/v1/watch') && method === 'GET') return; // a stream: tested below
        const r = await call(method, path, body);
        expectSane(r, `${method} ${path} ${body?.slice(0, 100)}`);
      }),
      { numRuns: 400 },
    );
    await healthy();
  });

  it('a refused apply changes nothing: no partial batch, the same resourceVersion', async () => {
    let applied = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(objectArb, { minLength: 1, maxLength: 3 }), fc.boolean(), async (objects, internal) => {
        const before = JSON.stringify(store.snapshot());
        const r = await call('POST', '/v1/apply', JSON.stringify({ objects, internal }));
        expectSane(r, JSON.stringify(objects).slice(0, 200));
        if (r.status >= 400) expect(JSON.stringify(store.snapshot())).toBe(before);
        else {
          applied++;
          expect(JSON.parse(r.text).results).toHaveLength(objects.length);
        }
        // Whatever got in has the shape every watcher relies on.
        for (const o of store.snapshot().objects) {
          expect(typeof o.kind).toBe('string');
          expect(typeof o.metadata.name).toBe('string');
        }
      }),
      { numRuns: 300 },
    );
    expect(applied).toBeGreaterThan(10); // both sides of the property are exercised
    await healthy();
  });

  it('raw malformed bytes on the socket and an oversized body: an error reply or a closed connection', async () => {
    const raw = (bytes: Buffer) =>
      new Promise<string>((resolve) => {
        const s = net.connect(socket);
        let data = '';
        s.on('data', (d) => (data += d));
        s.on('close', () => resolve(data));
        s.on('error', () => resolve(data));
        s.setTimeout(1000, () => s.destroy());
        s.end(bytes);
      });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)), fc.constantFrom('GET /v1/%zz HTTP/1.1\r\n\r\n', 'POST /v1/apply HTTP/1.1\r\nContent-Length: 5\r\n\r\n{"ob', 'GET // HTTP/1.1\r\nHost: x\r\n\r\n').map((s) => Buffer.from(s))), async (b) => {
        const reply = await raw(b);
        if (reply) expect(reply).toMatch(/^HTTP\/1\.1 [1-4]\d\d /);
      }),
      { numRuns: 100 },
    );
    const big = await call('POST', '/v1/apply', Buffer.alloc(LIMITS.requestBytes + 10, 32));
    expect(big.status).toBe(413);
    expect(JSON.parse(big.text).error.message).toMatch(/request body: more than/);
    await healthy();
  });

  it('watch with random kinds streams JSON lines and ends cleanly when the client goes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...KINDS, '%zz', ','), { maxLength: 4 }), async (kinds) => {
        const lines = await new Promise<string[]>((resolve, reject) => {
          const req = request({ socketPath: socket, path: `/v1/watch?kinds=${kinds.join(',')}` }, (res) => {
            let buf = '';
            res.on('data', (c: Buffer) => {
              buf += c;
              if (buf.includes('"SYNCED"')) req.destroy();
            });
            res.on('close', () => resolve(buf.split('\n').filter(Boolean)));
          });
          req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
          req.end();
        });
        for (const l of lines) JSON.parse(l);
      }),
      { numRuns: 30 },
    );
    await healthy();
  });
});
