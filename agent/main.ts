// Entry point of the node agent:
//   node dist/agent/main.js --cnilab-cluster=C --node=N
//     [--state=FILE] [--control-socket=PATH] [--agent-socket=PATH] [--pin-dir=PATH] [--node-dir=PATH]
//     [--datapath=bpf|fake]
// started by the cluster daemon inside the node's network namespace. The overrides let tests run an
// agent against their own control plane and directories; the defaults are paths.* of the cluster.
// CNILAB_BPF_OBJECT selects another BPF object (tests load deliberately broken variants), and
// CNILAB_BPF_SOCK_OBJECT another socket-LB object.
// SIGTERM/SIGINT: close the API socket and exit 0, leaving the datapath's pins and programs in place.
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { paths, validateClusterName, validateNodeName } from '../harness/cluster/names.js';
import { Agent, type AgentOptions } from './agent.js';
import { activeAgentFaults } from './faults.js';

function log(msg: string): void {
  process.stdout.write(`${new Date().toISOString()} ${msg}\n`);
}

export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      'cnilab-cluster': { type: 'string' },
      node: { type: 'string' },
      state: { type: 'string' },
      'control-socket': { type: 'string' },
      'agent-socket': { type: 'string' },
      'pin-dir': { type: 'string' },
      'node-dir': { type: 'string' },
      datapath: { type: 'string' },
    },
    strict: true,
  });
  const cluster = validateClusterName(values['cnilab-cluster'], '--cnilab-cluster');
  const node = validateNodeName(values.node, '--node');
  const datapath = values.datapath ?? 'bpf';
  if (datapath !== 'bpf' && datapath !== 'fake') throw new Error(`--datapath: expected bpf or fake, got "${datapath}"`);
  return {
    cluster,
    node,
    statePath: values.state ?? paths.state(cluster),
    controlSocket: values['control-socket'] ?? paths.controlSocket(cluster),
    agentSocket: values['agent-socket'] ?? paths.agentSocket(cluster, node),
    pinDir: values['pin-dir'] ?? paths.bpfNodeDir(cluster, node),
    nodeDir: values['node-dir'] ?? paths.nodeDir(cluster, node),
    objectPath: env.CNILAB_BPF_OBJECT || undefined,
    sockObjectPath: env.CNILAB_BPF_SOCK_OBJECT || undefined,
    datapath,
    log,
  };
}

async function main(): Promise<void> {
  const opts = parseAgentArgs(process.argv.slice(2));
  // A mutated agent (cnilab selftest) says so first thing, so its log can never pass for a real one's.
  if (activeAgentFaults().length) log(`MUTATION TESTING: faults injected: ${activeAgentFaults().join(', ')}`);
  if (opts.objectPath) log(`datapath object ${opts.objectPath}`);
  const agent = new Agent(opts);
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
