// cnilab exec NS/POD -- CMD...: run a command in a pod's network namespace, terminal attached.
// cnilab's pod tools (agnhost) are first on PATH, so the same probe commands as on a real cluster work.
import { clientFor, clusterName, parseFlags } from './common.js';
import { podHostname, podNetnsName } from '../cluster/pod-netns.js';
import { runAttached } from '../exec/run.js';
import { POD_BIN_DIR } from '../paths.js';
import { InvalidInputError, CnilabError } from '../errors.js';
import { validateLabel } from '../cluster/names.js';

export function parsePodRef(ref: string | undefined, defaultNs: string): { namespace: string; name: string } {
  if (!ref) throw new InvalidInputError('POD', 'missing: cnilab exec NS/POD -- CMD...');
  const parts = ref.split('/');
  if (parts.length > 2) throw new InvalidInputError('POD', `"${ref}" should be NAME or NAMESPACE/NAME`);
  const [namespace, name] = parts.length === 2 ? [parts[0], parts[1]] : [defaultNs, parts[0]];
  return { namespace: validateLabel('POD namespace', namespace), name: validateLabel('POD name', name) };
}

export async function exec(args: string[]): Promise<number> {
  const dash = args.indexOf('--');
  const own = dash >= 0 ? args.slice(0, dash) : args;
  const command = dash >= 0 ? args.slice(dash + 1) : [];
  const { values, positionals } = parseFlags(own, { name: { type: 'string' }, namespace: { type: 'string', short: 'n' } });
  if (values.help) {
    process.stdout.write('usage: cnilab exec [NS/]POD [-n NS] -- CMD [ARGS...]\n');
    return 0;
  }
  if (!command.length) throw new InvalidInputError('CMD', 'missing: put the command after --, e.g. cnilab exec x/a -- agnhost connect 198.19.1.5:80 --timeout=1s');
  const cluster = clusterName(values);
  const pod = parsePodRef(positionals[0], values.namespace ?? 'default');
  const obj = await clientFor(cluster).get('Pod', pod.namespace, pod.name);
  const phase = (obj.status as { phase?: string } | undefined)?.phase;
  if (phase !== 'Running') throw new CnilabError('CONFLICT', `pod ${pod.namespace}/${pod.name} is ${phase ?? 'Pending'}, not Running`);
  return runAttached(command, {
    netns: podNetnsName(cluster, obj),
    env: { PATH: `${POD_BIN_DIR}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`, HOSTNAME: podHostname(obj) },
  });
}
