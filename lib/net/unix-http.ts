// JSON over HTTP on a unix socket: how the CLI, the agents and the CNI plugin talk to the control
// plane and to each other. Dependency-free (the CNI plugin imports it and must start fast).
import { request } from 'node:http';

export interface UnixHttpResponse {
  status: number;
  /** The parsed JSON body ({} for an empty body). */
  body: any;
}

/** Raised when the answer is not JSON; connection errors are passed through as Node gives them. */
export class NotJsonError extends Error {}

export function unixJsonRequest(socketPath: string, method: string, path: string, body?: unknown, timeoutMs = 30_000, contentType = 'application/json'): Promise<UnixHttpResponse> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path,
        method,
        headers: text ? { 'content-type': contentType, 'content-length': Buffer.byteLength(text) } : {},
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
          } catch {
            return reject(new NotJsonError(`${socketPath} answered ${method} ${path} with something that is not JSON`));
          }
          resolve({ status: res.statusCode ?? 500, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer to ${method} ${path} from ${socketPath} within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    if (text) req.write(text);
    req.end();
  });
}
