// Entry point of the node agent:
//   node dist/agent/main.js --config=FILE [--cnilab-cluster=C]
// Its inputs are its config file (agent/config.ts: node, routing, pod CIDR, devices, paths, the BPF
// object, the kubeconfig) and the Kubernetes API that kubeconfig reaches: what a DaemonSet pod gets
// on a real node (a ConfigMap, NODE_NAME, a service account). The embedded cluster's daemon writes
// the file and starts the agent inside the node's network namespace; --cnilab-cluster is the marker
// `cnilab down --all` finds its processes by, and must name the config's cluster when given.
// CNILAB_BPF_OBJECT selects another BPF object (tests load deliberately broken variants), and
// CNILAB_BPF_SOCK_OBJECT another socket-LB object.
// SIGTERM/SIGINT: close the API socket and exit 0, leaving the datapath's pins and programs in place.
// A config that is not valid: the problem naming the field on stderr, exit 2.
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { InvalidInputError, CnilabError } from '../lib/errors.js';
import { loadAgentConfig, type AgentConfig } from './config.js';
import { Agent } from './agent.js';
import { activeAgentFaults } from './faults.js';

function log(msg: string): void {
  process.stdout.write(`${new Date().toISOString()} ${msg}\n`);
}

export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      'cnilab-cluster': { type: 'string' },
    },
    strict: true,
  });
  if (!values.config) throw new InvalidInputError('--config', 'missing: the agent needs its config file (agent/config.ts describes it)');
  const config = loadAgentConfig(values.config, env);
  const marker = values['cnilab-cluster'];
  if (marker !== undefined && marker !== config.cluster) {
    throw new InvalidInputError('--cnilab-cluster', `"${marker}" but the config file ${values.config} is for cluster "${config.cluster}"`);
  }
  if (env.CNILAB_BPF_OBJECT) config.bpf.object = env.CNILAB_BPF_OBJECT;
  if (env.CNILAB_BPF_SOCK_OBJECT) config.bpf.sockObject = env.CNILAB_BPF_SOCK_OBJECT;
  return config;
}

async function main(): Promise<void> {
  let config: AgentConfig;
  try {
    config = parseAgentArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(e instanceof CnilabError ? e.exitCode : 2);
  }
  // A mutated agent (cnilab selftest) says so first thing, so its log can never pass for a real one's.
  if (activeAgentFaults().length) log(`MUTATION TESTING: faults injected: ${activeAgentFaults().join(', ')}`);
  if (process.env.CNILAB_BPF_OBJECT) log(`datapath object ${config.bpf.object}`);
  const agent = new Agent({ config, log });
  let exiting = false;
  const exit = (sig: string) => {
    if (exiting) return;
    exiting = true;
    log(`${sig}: stopping (datapath state stays pinned)`);
    agent.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => exit('SIGTERM'));
  process.on('SIGINT', () => exit('SIGINT'));
  await agent.start();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    log(`fatal: ${err?.stack ?? err}${err?.detail ? `\n${err.detail}` : ''}`);
    process.exit(1);
  });
}
