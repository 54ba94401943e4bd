// cnilab observe: flows of the whole cluster through the relay, with hubble observe's habits: filters
// built as hubble builds them and applied on the nodes before --last, --follow for live flows, and the
// compact, json (jsonpb), dict and table outputs.
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { clientFor, clusterName } from './common.js';
import { InvalidInputError, NotFoundError } from '../errors.js';
import { paths } from '../cluster/names.js';
import type { ClusterSpec } from '../cluster/spec.js';
import type { GetFlowsRequest, GetFlowsResponse } from '../../agent/observer/api.js';
import { FILTER_FLAGS, buildFilters } from './observe-flags.js';
import { FlowPrinter, OUTPUT_FORMATS, type OutputFormat } from './observe-printer.js';

export { compactFlow } from './observe-printer.js';

const USAGE = `usage: cnilab observe [flags]
  -f, --follow              keep printing new flows
      --last N              the last N flows (default 20 without --follow/--since/--until/--first)
      --first N             the first N flows held
      --since T, --until T  RFC 3339 time or a duration back from now (30s, 5m, 1h)
  filters (repeatable; --not before one negates it):
      --pod [NS/]POD, --from-pod, --to-pod   (pod name prefix; NS defaults to -n or "default")
  -n, --namespace NS, --from-namespace, --to-namespace
      --label SELECTOR, --from-label, --to-label      (e.g. pod=a, "k8s:app in (x,y)")
      --ip IP|CIDR, --from-ip, --to-ip   --port N, --from-port, --to-port
      --identity N, --from-identity, --to-identity
      --protocol tcp|udp|icmp|http|dns   --verdict FORWARDED|DROPPED|AUDIT|...
  -t, --type drop|trace[:to-endpoint|from-endpoint|to-overlay|...]|policy-verdict|l7
      --node NODE   --http-status 200|4+   --http-method GET   --http-path REGEX
      --dns-query REGEX   --traffic-direction ingress|egress   --tcp-flags SYN[,ACK]
      --drop-reason POLICY_DENIED   --uuid UUID
  -o, --output compact|json|jsonpb|dict|table   (json is jsonpb: one GetFlowsResponse per line)
`;

/** "2024-01-02T03:04:05Z" or a duration back from now ("90s", "5m", "1h30m", "250ms"). */
export function parseTime(field: string, v: string, nowMs = Date.now()): string {
  if (/^\d{4}-\d\d-\d\d/.test(v)) {
    const ms = Date.parse(v);
    if (Number.isNaN(ms)) throw new InvalidInputError(field, `not a valid time: "${v}"`);
    return new Date(ms).toISOString();
  }
  const parts = [...v.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (!parts.length || parts.map((p) => p[0]).join('') !== v) throw new InvalidInputError(field, `expected an RFC 3339 time or a duration like 5m or 1h30m, got "${v}"`);
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const back = parts.reduce((a, p) => a + Number(p[1]) * unit[p[2]!]!, 0);
  return new Date(nowMs - back).toISOString();
}

function count(field: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidInputError(field, `expected a whole number ≥ 1, got "${v}"`);
  return Number(v);
}

export function parseObserveArgs(args: string[]): { request: GetFlowsRequest; output: OutputFormat; name: string; nodes: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {
    name: { type: 'string' },
    follow: { type: 'boolean', short: 'f' },
    last: { type: 'string' },
    first: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    output: { type: 'string', short: 'o' },
    not: { type: 'boolean', multiple: true },
    verbose: { type: 'boolean', short: 'v' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const f of FILTER_FLAGS) options[f] = { type: 'string', multiple: true };
  options.namespace!.short = 'n';
  options.type!.short = 't';
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: false, strict: true, tokens: true });
  } catch (e) {
    const msg = (e as Error).message;
    throw new InvalidInputError(/'([^']+)'/.exec(msg)?.[1] ?? 'arguments', msg.replace(/\. To specify a positional argument.*$/, ''));
  }
  const v = parsed.values as Record<string, any>;
  const output = (v.output ?? 'compact') as OutputFormat;
  if (!OUTPUT_FORMATS.includes(output)) throw new InvalidInputError('--output', `expected one of ${OUTPUT_FORMATS.join(', ')}, got "${v.output}"`);
  const last = count('--last', v.last);
  const first = count('--first', v.first);
  if (last !== undefined && first !== undefined) throw new InvalidInputError('--first', 'cannot be combined with --last');
  if (first !== undefined && v.follow) throw new InvalidInputError('--first', 'cannot be combined with --follow');
  const tokens = (parsed.tokens ?? []).filter((t): t is Extract<typeof t, { kind: 'option' }> => t.kind === 'option').map((t) => ({ name: t.name, value: typeof t.value === 'string' ? t.value : undefined }));
  const { whitelist, blacklist } = buildFilters(tokens);
  const since = v.since !== undefined ? parseTime('--since', v.since) : undefined;
  const until = v.until !== undefined ? parseTime('--until', v.until) : undefined;
  if (since && until && until < since) throw new InvalidInputError('--until', 'is before --since');
  const number = first ?? last ?? (v.follow || since || until ? 0 : 20);
  const request: GetFlowsRequest = {
    ...(number ? { number } : {}),
    ...(first !== undefined ? { first: true } : {}),
    ...(v.follow ? { follow: true } : {}),
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
    ...(whitelist.length ? { whitelist } : {}),
    ...(blacklist.length ? { blacklist } : {}),
  };
  const nodes = [...(v.node ?? []), ...(v['node-name'] ?? [])].filter((n: string) => !n.includes('*') && !n.includes('/'));
  return { request, output, name: clusterName(v), nodes };
}

export async function observe(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { request, output, name, nodes } = parseObserveArgs(args);
  const spec: ClusterSpec = await clientFor(name).cluster();
  if (spec.cni !== 'cnilab') throw new InvalidInputError('--name', `cluster "${name}" runs the ${spec.cni} CNI, which has no flow observer`);
  for (const n of nodes) if (!spec.nodes.some((s) => s.name === n)) throw new InvalidInputError('--node', `no node "${n}" in cluster "${name}" (nodes: ${spec.nodes.map((x) => x.name).join(', ')})`);
  const socket = paths.relaySocket(name);
  if (!existsSync(socket)) throw new NotFoundError(`the flow relay of cluster "${name}" is not running (${socket})`);

  const printer = new FlowPrinter(output, (s) => process.stdout.write(s), (s) => process.stderr.write(s));
  const { getFlowsStream, FlowStreamError } = await import('../../agent/api/flow-stream.js');
  let flows = 0;
  const unavailable = new Set<string>();
  // Without --follow the relay sends everything at once; table output aligns the whole answer.
  const held: GetFlowsResponse[] = [];
  const stream = getFlowsStream(socket, '/v1/flows', request, (r) => {
    if ('flow' in r) flows++;
    if ('node_status' in r) for (const n of r.node_status.node_names) (r.node_status.state_change === 'NODE_CONNECTED' ? unavailable.delete(n) : unavailable.add(n));
    if (request.follow || output !== 'table') printer.print([r]);
    else held.push(r);
  });
  const stop = () => stream.cancel();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await stream.done;
  } catch (e) {
    if (e instanceof FlowStreamError) {
      const field = e.body?.error?.field;
      throw field ? new InvalidInputError(field, e.message.replace(`${field}: `, '')) : e;
    }
    throw e;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  if (held.length || output === 'table') printer.print(held);
  if (!request.follow && unavailable.size === spec.nodes.length && flows === 0) {
    process.stderr.write(`error: no node of cluster "${name}" answered (${[...unavailable].join(', ')} unavailable)\n`);
    return 1;
  }
  return 0;
}
