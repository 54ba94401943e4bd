// cnilab down: remove one cluster, or with --all everything any cnilab run left behind.
import { clusterName, parseFlags } from './common.js';
import { destroyCluster } from '../providers/netns/cluster.js';
import { sweep, type Leftovers } from '../providers/netns/sweep.js';
import { providerFor, recordedProvider } from '../providers/common/registry.js';

function summary(what: string, l: Leftovers): string {
  const parts = [
    `${l.processes.length} processes`,
    `${l.netns.length} namespaces`,
    `${l.bpfDirs.length} BPF pin dirs`,
    `${l.runDirs.length} run dirs`,
  ];
  if (l.hostLinks.length) parts.push(`${l.hostLinks.length} host links`);
  return `${what}: removed ${parts.join(', ')}\n`;
}

export async function down(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { name: { type: 'string' }, all: { type: 'boolean' } }, false);
  if (values.help) {
    process.stdout.write('usage: cnilab down [--name NAME] | --all\n');
    return 0;
  }
  if (values.all) {
    process.stderr.write(summary('all cnilab clusters', await sweep()));
    return 0;
  }
  const name = clusterName(values);
  // A kind or K3s cluster goes the way it was made; its run dir (kubeconfig) is swept below.
  if (recordedProvider(name) !== 'netns') await (await providerFor(name)).destroy();
  process.stderr.write(summary(`cluster "${name}"`, await destroyCluster(name)));
  return 0;
}
