// Is there a Docker engine? kind and K3s (testcontainers) run their nodes as containers, so both need
// one; without it `cnilab up --provider kind|k3s` is "unsupported", not failed. A docker CLI alone is
// not an engine (this machine has the CLI and no daemon): the check asks the engine itself, GET
// /_ping on DOCKER_HOST (unix:// or tcp://) or /var/run/docker.sock, which answers "OK".
import { request } from 'node:http';

export type DockerEndpoint = { socketPath: string } | { host: string; port: number };

/** Where the Docker engine would be, from DOCKER_HOST as the docker CLI reads it. */
export function dockerEndpoint(env: NodeJS.ProcessEnv = process.env): DockerEndpoint {
  const host = env.DOCKER_HOST;
  if (!host) return { socketPath: '/var/run/docker.sock' };
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  const m = /^tcp:\/\/([^:/]+)(?::(\d+))?\/?$/.exec(host);
  if (m) return { host: m[1]!, port: m[2] ? Number(m[2]) : 2375 };
  return { socketPath: host };
}

export interface DockerEngineCheck {
  ok: boolean;
  /** Where it was asked, for the message. */
  where: string;
  /** Why not, when not. */
  reason?: string;
}

export function describeEndpoint(ep: DockerEndpoint): string {
  return 'socketPath' in ep ? `unix://${ep.socketPath}` : `tcp://${ep.host}:${ep.port}`;
}

/** Ask the engine for /_ping; never throws. */
export function checkDockerEngine(env: NodeJS.ProcessEnv = process.env, timeoutMs = 2000): Promise<DockerEngineCheck> {
  const ep = dockerEndpoint(env);
  const where = describeEndpoint(ep);
  return new Promise((resolve) => {
    const req = request({ ...ep, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'OK' ? { ok: true, where } : { ok: false, where, reason: `answered HTTP ${res.statusCode} ${body.trim().slice(0, 80)}` }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ ok: false, where, reason: e.code ?? e.message }));
    req.end();
  });
}
