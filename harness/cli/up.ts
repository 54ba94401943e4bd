// cnilab up: create an embedded cluster from flags or a cluster file.
import { clusterName, parseFlags } from './common.js';
import { loadSpecFile, resolveSpec, type SpecOverrides } from '../cluster/spec.js';
import { createCluster, destroyCluster } from '../providers/netns/cluster.js';
import { InvalidInputError } from '../errors.js';
import { parseUpProvider, providerFor, recordProvider } from '../providers/common/registry.js';

export async function up(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    name: { type: 'string' },
    config: { type: 'string', short: 'c' },
    nodes: { type: 'string' },
    routing: { type: 'string' },
    cni: { type: 'string' },
    provider: { type: 'string' },
    retain: { type: 'boolean' },
    quiet: { type: 'boolean', short: 'q' },
  });
  if (values.help) {
    process.stdout.write('usage: cnilab up [--name NAME] [--config FILE] [--nodes N] [--routing tunnel|native] [--cni cnilab|reference-bridge|kernel] [--provider netns|kind|k3s] [--retain]\n');
    return 0;
  }
  if (positionals.length) throw new InvalidInputError('arguments', `unexpected "${positionals[0]}"`);
  const overrides: SpecOverrides = {
    name: values.name === undefined ? (process.env.CNILAB_CLUSTER ?? undefined) : clusterName(values),
    routing: values.routing,
    cni: values.cni,
  };
  if (values.nodes !== undefined) {
    if (!/^\d+$/.test(values.nodes)) throw new InvalidInputError('--nodes', `expected a whole number, got "${values.nodes}"`);
    overrides.nodes = Number(values.nodes);
  }
  const spec = values.config ? loadSpecFile(values.config, overrides) : resolveSpec({}, 'flags', overrides);
  const provider = parseUpProvider(values.provider);
  const started = performance.now();
  const say = (m: string) => {
    if (!values.quiet) process.stderr.write(` • ${m}\n`);
  };

  // Ctrl-C while creating: remove what was made (unless --retain), then exit 130.
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\ninterrupted: ${values.retain ? 'keeping' : 'removing'} what was created of cluster "${spec.name}"\n`);
    const finish = () => process.exit(130);
    // destroyCluster stops the creation at its next step and waits for it before sweeping.
    if (values.retain) finish();
    else void destroyCluster(spec.name).finally(finish);
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    say(`cluster "${spec.name}": ${spec.nodes.length} nodes, cni ${spec.cni}, routing ${spec.routing}, pod MTU ${spec.podMtu}`);
    if (provider === 'netns') await createCluster(spec, { onProgress: say, retain: values.retain });
    else await createOnProvider(provider, spec, say);
  } catch (err) {
    // Interrupted: the creation stopped on purpose; the signal handler finishes the cleanup and exits.
    if (interrupted) return new Promise<number>(() => undefined);
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
  const ms = Math.round(performance.now() - started);
  say(`ready in ${ms} ms`);
  for (const n of spec.nodes) process.stdout.write(`${n.name}\t${n.underlayIp}\tpods ${n.podCidr}\n`);
  return 0;
}

/** kind or K3s: what the machine needs is checked before anything is made (unsupported: exit 3). */
async function createOnProvider(provider: 'kind' | 'k3s', spec: Parameters<typeof createCluster>[0], say: (m: string) => void): Promise<void> {
  const { preflight } = provider === 'kind' ? await import('../providers/kind/preflight.js') : await import('../providers/k3s/preflight.js');
  await preflight();
  // The K3s container must outlive this process (testcontainers' reaper would remove it at exit).
  if (provider === 'k3s') process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  recordProvider(spec.name, provider);
  try {
    await (await providerFor(spec.name, provider)).create(spec, { onProgress: say });
  } catch (err) {
    await (await providerFor(spec.name, provider)).destroy().catch(() => undefined);
    await destroyCluster(spec.name);
    throw err;
  }
}
