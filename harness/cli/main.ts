// The `cnilab` command: dispatch to one module per subcommand.
import { reportError } from './common.js';
import { InvalidInputError } from '../errors.js';

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  up: { summary: 'create a cluster (--nodes N --routing tunnel|native --cni cnilab|reference-bridge|kernel, or --config FILE)', load: async () => (await import('./up.js')).up },
  down: { summary: 'remove a cluster (--all sweeps what crashed runs left)', load: async () => (await import('./down.js')).down },
  apply: { summary: 'create or update objects from Kubernetes YAML (-f FILE, -f - for stdin)', load: async () => (await import('./apply.js')).apply },
  get: { summary: 'list pods|services|endpointslices|networkpolicies|ciliumnetworkpolicies|namespaces|nodes (-n NS | -A, -o wide|json|yaml|name)', load: async () => (await import('./get.js')).get },
  label: { summary: 'set or remove labels: cnilab label pod|namespace NAME k=v k2- [-n NS] [--overwrite] [--wait]', load: async () => (await import('./label.js')).label },
  delete: { summary: 'delete objects (-f FILE, or KIND NAME [-n NS])', load: async () => (await import('./delete.js')).del },
  kubeconfig: { summary: 'print the path of the cluster\'s kubeconfig: KUBECONFIG=$(cnilab kubeconfig) kubectl get pods -A', load: async () => (await import('./kubeconfig.js')).kubeconfig },
  exec: { summary: 'run a command in a pod: cnilab exec NS/POD -- CMD...', load: async () => (await import('./exec.js')).exec },
  run: { summary: 'run the suites on fresh clusters and write reports (--out DIR, --suite NAME, --config NAME)', load: async () => (await import('./run.js')).runCommand },
  observe: { summary: 'flows of every node, as hubble observe (--follow, --last N, --pod, --verdict DROPPED, --type drop, -o json|compact|dict|table)', load: async () => (await import('./observe.js')).observe },
  ui: { summary: 'web UI: service map and live flows of the cluster (--port 12000, --address 127.0.0.1)', load: async () => (await import('./ui.js')).ui },
  metrics: { summary: 'Hubble flow metrics of the cluster in Prometheus text (--node N, --serve HOST:PORT)', load: async () => (await import('./metrics.js')).metrics },
  bench: { summary: 'performance of 5 configurations, interleaved → perf.json/md/html (--quick, --samples N, --config NAME)', load: async () => (await import('./bench.js')).bench },
  report: { summary: 'report compare BASE.json HEAD.json [--threshold 5%] [--threshold-metric M=P%] [--junit FILE]', load: async () => (await import('./report.js')).report },
  selftest: { summary: 'mutation testing: broken datapaths, agents and harness checks must be caught (--list, --mutation NAME)', load: async () => (await import('./selftest.js')).selftest },
  status: { summary: 'clusters, nodes, pods and agents at a glance', load: async () => (await import('./status.js')).status },
  manifests: { summary: 'the agent as a Kubernetes workload: the Helm chart deploy/helm/cnilab rendered (--set KEY=VALUE, -n NS, -o yaml|json)', load: async () => (await import('./manifests.js')).manifests },
};

export function usage(): string {
  const lines = ['usage: cnilab COMMAND [flags]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${c.summary}`);
  lines.push('', 'common flags: --name NAME (cluster, default "cnilab"), --verbose (stack traces)', '');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  const verbose = rest.includes('--verbose') || rest.includes('-v');
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(usage());
    process.exitCode = cmd ? 0 : 2;
    return;
  }
  const entry = COMMANDS[cmd];
  if (!entry) {
    process.exitCode = reportError(new InvalidInputError('command', `unknown command "${cmd}"\n${usage()}`), false);
    return;
  }
  try {
    process.exitCode = await (await entry.load())(rest);
  } catch (err) {
    process.exitCode = reportError(err, verbose);
  }
}
