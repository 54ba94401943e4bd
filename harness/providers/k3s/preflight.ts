// What K3s needs on this machine: a Docker engine (testcontainers runs the K3s server as a privileged
// container). Checked before anything is created; missing it is "unsupported", exit 3.
import { UnsupportedError } from '../../errors.js';
import { checkDockerEngine } from '../common/docker.js';

export async function preflight(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const engine = await checkDockerEngine(env);
  if (!engine.ok) throw new UnsupportedError('k3s', 'a Docker engine');
}
