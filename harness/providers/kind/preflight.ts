// What kind needs on this machine: a Docker engine (its nodes are containers) and the kind CLI.
// Checked before anything is created; missing either is "unsupported", exit 3.
import { UnsupportedError } from '../../errors.js';
import { run } from '../../exec/run.js';
import { checkDockerEngine } from '../common/docker.js';

export async function preflight(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const engine = await checkDockerEngine(env);
  if (!engine.ok) throw new UnsupportedError('kind', 'a Docker engine');
  const kind = await run(['kind', 'version'], { allowFailure: true, timeoutMs: 10_000 }).catch(() => undefined);
  if (!kind || kind.code !== 0) throw new UnsupportedError('kind', 'the kind CLI on PATH');
}
