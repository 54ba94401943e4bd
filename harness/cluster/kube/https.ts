// The Kubernetes API over HTTPS on a loopback port, for kubectl and client libraries: TLS with the
// cluster's own CA, and every request authenticated by the bearer token of the kubeconfig (401
// Unauthorized otherwise, as a Status). The unix socket serves the same API without a token: only
// root can open it.
import { createServer, type Server } from 'node:https';
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { KubeApi } from './api.js';
import { sendError } from './api.js';
import { ApiError } from './status.js';
import type { KubeCredentials } from './pki.js';

function authorized(req: IncomingMessage, token: string): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

const unauthorized = () => new ApiError(401, 'Unauthorized', 'Unauthorized');

export function startKubeHttps(api: KubeApi, creds: KubeCredentials, port = 0): Promise<Server> {
  const server = createServer({ key: creds.keyPem, cert: creds.certPem }, (req, res) => {
    if (!authorized(req, creds.token)) return sendError(res, unauthorized());
    void api.handle(req, res);
  });
  server.on('upgrade', (req, socket, head) => {
    if (!authorized(req, creds.token)) {
      const body = JSON.stringify(unauthorized().toStatus());
      socket.end(`HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return;
    }
    api.upgrade(req, socket, head);
  });
  // A pod's traffic never reaches the host's loopback; a client that stalls must not hold a socket forever.
  server.headersTimeout = 30_000;
  server.requestTimeout = 0; // watches and log follows are long
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
