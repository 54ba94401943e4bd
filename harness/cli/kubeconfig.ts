// cnilab kubeconfig [--name N]: the path of the cluster's kubeconfig, for
//   KUBECONFIG=$(cnilab kubeconfig) kubectl get pods -A
// It is written by the cluster daemon at `up` (HTTPS on a loopback port, the cluster's own CA, a
// bearer token) and removed by `down`.
import { existsSync } from 'node:fs';
import { clusterName, parseFlags } from './common.js';
import { paths } from '../cluster/names.js';
import { NotFoundError } from '../errors.js';

export async function kubeconfig(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { name: { type: 'string' } }, false);
  if (values.help) {
    process.stdout.write('usage: cnilab kubeconfig [--name NAME]   prints the path of the cluster\'s kubeconfig\n');
    return 0;
  }
  const name = clusterName(values);
  const path = paths.kubeconfig(name);
  if (!existsSync(path)) throw new NotFoundError(`cluster "${name}" has no kubeconfig (${path}): is it running? start it with \`cnilab up --name ${name}\``);
  process.stdout.write(`${path}\n`);
  return 0;
}
