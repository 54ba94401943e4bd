// cnilab ui: the web UI for a running cluster (service map and live flow table, like Hubble UI), served
// on a local address until interrupted. Hubble UI's port is 12000.
import { existsSync } from 'node:fs';
import { clientFor, clusterName, parseFlags } from './common.js';
import { InvalidInputError, NotFoundError } from '../errors.js';
import { paths } from '../cluster/names.js';
import type { ClusterSpec } from '../cluster/spec.js';

const USAGE = `usage: cnilab ui [--address 127.0.0.1] [--port 12000]
  Serves the flows page of the cluster: a service map (workloads, flows coloured by verdict, drops in
  red), a live flow table with observe's filters and a detail panel, namespace selection.
`;

export async function ui(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { name: { type: 'string' }, address: { type: 'string' }, port: { type: 'string' } }, false);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const port = Number(values.port ?? 12000);
  if (!/^\d{1,5}$/.test(String(values.port ?? '12000')) || port > 65535) throw new InvalidInputError('--port', `expected a port 0-65535, got "${values.port}"`);
  const address = values.address ?? '127.0.0.1';
  const name = clusterName(values);
  const client = clientFor(name);
  const spec: ClusterSpec = await client.cluster();
  if (spec.cni !== 'cnilab') throw new InvalidInputError('--name', `cluster "${name}" runs the ${spec.cni} CNI, which has no flow observer`);
  const relaySocket = paths.relaySocket(name);
  if (!existsSync(relaySocket)) throw new NotFoundError(`the flow relay of cluster "${name}" is not running (${relaySocket})`);
  const { startUiServer } = await import('../ui/server.js');
  const srv = await startUiServer({ cluster: name, spec, client, relaySocket }, port, address).catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'EADDRINUSE' || e.code === 'EADDRNOTAVAIL' ? new InvalidInputError(e.code === 'EADDRINUSE' ? '--port' : '--address', `cannot listen on ${address}:${port} (${e.code})`) : e;
  });
  process.stdout.write(`cnilab ui for cluster ${name}: ${srv.url} (Ctrl-C to stop)\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await srv.close();
  return 0;
}
