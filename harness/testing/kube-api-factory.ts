// A vitest globalSetup that lets tests outside harness/ (the agent's, above all: the agent may not
// import harness code, test doubles included) run against the real embedded Kubernetes API. It serves
// a small factory on a unix socket whose path it provides to the tests as `kubeApiFactory`;
// lib/testing/kube-api.ts is the tests' side. Each API is the control plane's own (ObjectStore,
// KubeApi, HTTPS with a CA and a token, the workload controllers), started in this process:
//   POST   /apis                {nodes?, historyLimit?, bookmarkIntervalMs?, controllers?, netns?}
//                               → {id, kubeconfig, netnsKubeconfig?}  (netns: a second listener on
//                               127.0.0.1:6443 inside that network namespace, for an agent run there)
//   POST   /apis/ID/store       {apply?: objects, delete?: [{kind, namespace, name}]}: writes as the
//                               control plane's own components make them (Nodes, for instance)
//   POST   /apis/ID/disconnect  drop every open connection (watches included)
//   POST   /apis/ID/pause       {ms}: stop listening, and listen again on the same port after ms
//   DELETE /apis/ID
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';
import { startTestApi, type TestApi } from '../cluster/kube/testing.js';
import { kubeconfigYaml, makeCredentials, type KubeCredentials } from '../cluster/kube/pki.js';
import type { KubeObject } from '../cluster/objects.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeApiFactory: string;
  }
}

interface Running {
  api: TestApi;
  port: number;
  netnsServer?: HttpsServer;
  dir: string;
}

async function readJson(req: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const t = Buffer.concat(chunks).toString('utf8');
  return t ? JSON.parse(t) : {};
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const t = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(t) });
  res.end(t);
}

/** The API's HTTPS handler again, on a socket opened inside a network namespace (root only). */
async function listenInNetns(t: TestApi, creds: KubeCredentials, netns: string): Promise<HttpsServer> {
  const { createListeningSocketIn } = await import('../traffic/netns.js');
  const fd = createListeningSocketIn(netns, { proto: 'tcp', port: 6443, host: '127.0.0.1' });
  const listeners = t.server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  const server = createHttpsServer({ key: creds.keyPem, cert: creds.certPem }, (req, res) => listeners[0]!(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd }, () => resolve());
  });
  return server;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const apis = new Map<string, Running>();
  let creds: Promise<KubeCredentials> | undefined;
  const credDir = mkdtempSync(join(tmpdir(), 'cnilab-kube-factory-'));
  let seq = 0;

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const parts = (req.url ?? '/').split('/').filter(Boolean);
    const r = parts[1] ? apis.get(parts[1]) : undefined;
    if (req.method === 'POST' && parts.length === 1 && parts[0] === 'apis') {
      const body = await readJson(req);
      creds ??= makeCredentials(credDir, 'test'); // openssl once per test run
      const api = await startTestApi({
        creds: await creds,
        historyLimit: body.historyLimit,
        bookmarkIntervalMs: body.bookmarkIntervalMs,
        controllers: body.controllers ?? false,
        nodeObjects: body.nodes as KubeObject[] | undefined,
      });
      const id = String(++seq);
      const dir = mkdtempSync(join(tmpdir(), 'cnilab-kube-test-'));
      const running: Running = { api, port: (api.server.address() as AddressInfo).port, dir };
      apis.set(id, running);
      let netnsKubeconfig: string | undefined;
      if (body.netns) {
        running.netnsServer = await listenInNetns(api, await creds, body.netns);
        netnsKubeconfig = join(dir, 'kubeconfig-netns');
        writeFileSync(netnsKubeconfig, kubeconfigYaml('test', 'https://127.0.0.1:6443', api.caPem, api.token), { mode: 0o600 });
      }
      return send(res, 200, { id, kubeconfig: api.kubeconfigPath, url: api.url, netnsKubeconfig });
    }
    if (!r) return send(res, 404, { error: `no API ${parts[1]}` });
    const sub = parts[2];
    if (req.method === 'DELETE' && !sub) {
      apis.delete(parts[1]!);
      r.netnsServer?.closeAllConnections();
      r.netnsServer?.close();
      await r.api.close();
      rmSync(r.dir, { recursive: true, force: true });
      return send(res, 200, {});
    }
    if (req.method === 'POST' && sub === 'store') {
      const body = await readJson(req);
      const results = body.apply ? r.api.store.apply(body.apply as KubeObject[], { internal: true }) : [];
      for (const d of (body.delete ?? []) as Array<{ kind: string; namespace?: string; name: string }>) r.api.store.delete(d.kind, d.namespace, d.name);
      return send(res, 200, { results, resourceVersion: r.api.store.resourceVersion });
    }
    if (req.method === 'POST' && sub === 'disconnect') {
      r.api.server.closeAllConnections();
      r.netnsServer?.closeAllConnections();
      return send(res, 200, {});
    }
    if (req.method === 'POST' && sub === 'pause') {
      const { ms } = await readJson(req);
      await new Promise((resolve) => {
        r.api.server.close(resolve);
        r.api.server.closeAllConnections();
      });
      setTimeout(() => r.api.server.listen(r.port, '127.0.0.1'), Number(ms) || 0);
      return send(res, 200, {});
    }
    send(res, 404, { error: `no route ${req.method} ${req.url}` });
  };

  const socket = join(credDir, 'factory.sock');
  const server = createServer((req, res) => {
    route(req, res).catch((e) => send(res, 500, { error: (e as Error).stack ?? String(e) }));
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  project.provide('kubeApiFactory', socket);

  return async () => {
    for (const r of apis.values()) {
      r.netnsServer?.closeAllConnections();
      r.netnsServer?.close();
      await r.api.close().catch(() => undefined);
      rmSync(r.dir, { recursive: true, force: true });
    }
    server.close();
    rmSync(credDir, { recursive: true, force: true });
  };
}
