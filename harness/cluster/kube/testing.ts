// An embedded Kubernetes API in-process, for tests and benchmarks that need no cluster: a store with
// the default namespace and some nodes, the controllers, the API on HTTPS with fresh credentials,
// and a kubeconfig for clients.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ObjectStore } from '../store.js';
import type { KubeObject } from '../objects.js';
import { ControllerManager } from '../controllers/index.js';
import { KubeApi, type PodStreams } from './api.js';
import { startKubeHttps } from './https.js';
import { kubeconfigYaml, makeCredentials } from './pki.js';

export interface TestApi {
  store: ObjectStore;
  api: KubeApi;
  server: Server;
  url: string;
  token: string;
  kubeconfigPath: string;
  caPem: string;
  close(): Promise<void>;
}

export async function startTestApi(opts: { nodes?: number; historyLimit?: number; bookmarkIntervalMs?: number; controllers?: boolean; streams?: PodStreams } = {}): Promise<TestApi> {
  const dir = mkdtempSync(join(tmpdir(), 'cnilab-kube-'));
  const store = new ObjectStore(opts.historyLimit);
  store.apply(
    [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', labels: { 'kubernetes.io/metadata.name': 'default' } }, status: { phase: 'Active' } },
      ...Array.from({ length: opts.nodes ?? 3 }, (_, i) => ({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: `node${i + 1}` },
        spec: { podCIDR: `198.19.${i + 1}.0/24` },
        status: { conditions: [{ type: 'Ready', status: 'True' }] },
      })),
    ] as KubeObject[],
    { internal: true },
  );
  const controllers = opts.controllers === false ? undefined : new ControllerManager(store, () => undefined);
  controllers?.start();
  const api = new KubeApi(store, { bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 200, streams: opts.streams });
  const creds = await makeCredentials(dir, 'test');
  const server = await startKubeHttps(api, creds);
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfigYaml('test', url, creds.caPem, creds.token), { mode: 0o600 });
  return {
    store,
    api,
    server,
    url,
    token: creds.token,
    kubeconfigPath,
    caPem: creds.caPem,
    async close() {
      controllers?.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One HTTPS request to the test API with its token; the parsed JSON body (or text) and status. */
export async function apiRequest(t: TestApi, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; text: string }> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = request(`${t.url}${path}`, { method, ca: t.caPem, headers: { authorization: `Bearer ${t.token}`, ...(text ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const s = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = s;
        try {
          parsed = JSON.parse(s);
        } catch {
          /* text */
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text: s });
      });
    });
    req.on('error', reject);
    if (text) req.write(text);
    req.end();
  });
}
