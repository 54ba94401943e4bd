// The cnilab CNI plugin (spec 1.1.0; VERSION, ADD, DEL, CHECK, STATUS, GC), executed by the container
// runtime inside the node's network namespace. The runtime runs bin/cni/cnilab, a C forwarder that
// hands the invocation to the node's agent, which calls runPlugin below in-process; when it cannot,
// it runs this module as bin/cni/cnilab-node. Either way the plugin validates its environment and
// network configuration, then hands the work to the agent over its unix socket, as Cilium's plugin
// does. As a process it runs once per pod start, so it imports nothing but node:fs, node:http and
// the dependency-free protocol module: startup time is most of what it costs.
import { existsSync, readFileSync } from 'node:fs';
import { NotJsonError, unixJsonRequest } from '../../harness/exec/unix-http.js';
import { CNI_ERR, CNI_VERSION, CniError, hasV11Verbs, SUPPORTED_VERSIONS, type CniAddResult, type CniErrorBody, type CniGcRequest, type CniRequest } from './protocol.js';
import { forVersion, mergeChained, parsePrevResult, parseValidAttachments } from './result.js';

/** Largest network configuration accepted on stdin (the C entry point refuses the same). */
export const MAX_CONFIG_BYTES = 1 << 20;
/** How long the plugin waits for the agent's answer unless the config says (agentTimeoutMs). */
const AGENT_TIMEOUT_MS = 90_000;

interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  agentSocket: string;
  mtu?: number;
  /** Bounds of the plugin's exchange with the agent (the C entry point reads the same keys). */
  agentConnectTimeoutMs?: number;
  agentTimeoutMs?: number;
  prevResult?: unknown;
  [key: string]: unknown;
}

const COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'] as const;

export interface PluginOutput {
  code: number;
  stdout: string;
}

/** CNI_ARGS: "K=V;K=V". */
export function parseCniArgs(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (s ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

function parseNetConf(text: string): NetConf {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CniError(CNI_ERR.DECODE_FAILURE, 'failed to decode the network configuration on stdin', (e as Error).message);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new CniError(CNI_ERR.DECODE_FAILURE, 'network configuration is not a JSON object');
  const c = raw as Record<string, unknown>;
  if (typeof c.cniVersion !== 'string' || c.cniVersion === '') throw new CniError(CNI_ERR.INVALID_NETCONF, 'network configuration: cniVersion is missing');
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(c.cniVersion)) {
    throw new CniError(CNI_ERR.INCOMPATIBLE_VERSION, `incompatible CNI version ${c.cniVersion}`, `supported: ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  const problems: string[] = [];
  if (typeof c.name !== 'string' || !c.name) problems.push('name: expected a non-empty string');
  if (c.type !== 'cnilab') problems.push(`type: expected "cnilab", got ${JSON.stringify(c.type)}`);
  if (typeof c.agentSocket !== 'string' || !c.agentSocket.startsWith('/')) problems.push('agentSocket: expected an absolute path');
  if (c.mtu !== undefined && (typeof c.mtu !== 'number' || !Number.isInteger(c.mtu) || c.mtu < 576 || c.mtu > 65535)) {
    problems.push(`mtu: expected a whole number from 576 to 65535, got ${JSON.stringify(c.mtu)}`);
  }
  for (const k of ['agentConnectTimeoutMs', 'agentTimeoutMs'] as const) {
    const v = c[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 600_000)) problems.push(`${k}: expected milliseconds from 1 to 600000, got ${JSON.stringify(v)}`);
  }
  if (problems.length) throw new CniError(CNI_ERR.INVALID_NETCONF, `invalid network configuration: ${problems.join('; ')}`);
  return c as unknown as NetConf;
}

async function callAgentOverSocket<T>(socket: string, path: string, body: unknown, timeoutMs: number): Promise<T> {
  let res;
  try {
    res = await unixJsonRequest(socket, body === undefined ? 'GET' : 'POST', path, body, timeoutMs);
  } catch (e) {
    if (e instanceof NotJsonError) throw new CniError(CNI_ERR.OTHER, `agent at ${socket} answered ${path} with something that is not JSON`);
    const err = e as NodeJS.ErrnoException;
    // The agent is (re)starting or not there: the runtime should retry, not give up on the pod.
    throw new CniError(CNI_ERR.TRY_AGAIN_LATER, `cnilab agent not reachable at ${socket}: ${err.code ?? err.message}`, err.message);
  }
  if (res.status < 400) return res.body as T;
  const e = res.body as Partial<CniErrorBody> & { error?: { message?: string } };
  throw new CniError(typeof e.cniCode === 'number' ? e.cniCode : CNI_ERR.OTHER, e.msg ?? e.error?.message ?? `agent answered HTTP ${res.status}`, e.details);
}

/** How the plugin reaches the agent: over its socket, or (inside the agent) by a direct call. */
export type AgentCall = <T>(socket: string, path: string, body: unknown, timeoutMs: number) => Promise<T>;

/** Everything but process I/O, so tests can drive it directly as well as through the executable. */
export async function runPlugin(env: NodeJS.ProcessEnv, stdin: string, callAgent: AgentCall = callAgentOverSocket): Promise<PluginOutput> {
  let version = CNI_VERSION;
  try {
    const command = env.CNI_COMMAND;
    if (!command) throw new CniError(CNI_ERR.INVALID_ENV, 'CNI_COMMAND is not set');
    if (!(COMMANDS as readonly string[]).includes(command)) throw new CniError(CNI_ERR.INVALID_ENV, `unknown CNI_COMMAND ${JSON.stringify(command)}`);
    if (command === 'VERSION') {
      // The config is optional here; answer in the requested version when we speak it.
      try {
        const v = (JSON.parse(stdin || '{}') as { cniVersion?: unknown }).cniVersion;
        if (typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v)) version = v;
      } catch {
        /* no or bad config: our own version */
      }
      return { code: 0, stdout: JSON.stringify({ cniVersion: version, supportedVersions: [...SUPPORTED_VERSIONS] }) };
    }
    if (Buffer.byteLength(stdin) > MAX_CONFIG_BYTES) {
      throw new CniError(CNI_ERR.INVALID_NETCONF, `network configuration on stdin is larger than ${MAX_CONFIG_BYTES} bytes`);
    }
    const conf = parseNetConf(stdin);
    version = conf.cniVersion;
    if ((command === 'STATUS' || command === 'GC') && !hasV11Verbs(version)) {
      throw new CniError(CNI_ERR.INCOMPATIBLE_VERSION, `${command} needs cniVersion 1.1.0 or later, the configuration says ${version}`);
    }
    if (command === 'STATUS') {
      try {
        const h = await callAgent<{ ok: boolean; message?: string }>(conf.agentSocket, '/v1/healthz', undefined, 2000);
        if (!h.ok) throw new CniError(CNI_ERR.PLUGIN_NOT_AVAILABLE, 'plugin not available', h.message);
      } catch (e) {
        if (e instanceof CniError && e.cniCode === CNI_ERR.PLUGIN_NOT_AVAILABLE) throw e;
        throw new CniError(CNI_ERR.PLUGIN_NOT_AVAILABLE, 'plugin not available', (e as Error).message);
      }
      return { code: 0, stdout: '' };
    }
    if (command === 'GC') {
      const body: CniGcRequest = { validAttachments: parseValidAttachments(conf) };
      await callAgent(conf.agentSocket, '/v1/cni/gc', body, conf.agentTimeoutMs ?? AGENT_TIMEOUT_MS);
      return { code: 0, stdout: '' };
    }

    const missing = ['CNI_CONTAINERID', 'CNI_IFNAME', ...(command === 'DEL' ? [] : ['CNI_NETNS'])].filter((k) => !env[k]);
    if (missing.length) throw new CniError(CNI_ERR.INVALID_ENV, `required environment variables not set: ${missing.join(', ')}`);
    if (command !== 'DEL' && !existsSync(env.CNI_NETNS!)) {
      throw new CniError(CNI_ERR.INVALID_ENV, `CNI_NETNS ${env.CNI_NETNS} does not exist`);
    }
    if (command === 'CHECK' && conf.prevResult === undefined) throw new CniError(CNI_ERR.INVALID_NETCONF, 'CHECK needs prevResult in the network configuration');
    const prevResult = conf.prevResult === undefined || command === 'DEL' ? undefined : parsePrevResult(conf.prevResult);
    const args = parseCniArgs(env.CNI_ARGS);
    const req: CniRequest = {
      containerId: env.CNI_CONTAINERID!,
      netns: env.CNI_NETNS ?? '',
      ifname: env.CNI_IFNAME!,
      podNamespace: args.K8S_POD_NAMESPACE,
      podName: args.K8S_POD_NAME,
      mtu: conf.mtu,
      ...(prevResult ? { prevResult } : {}),
    };
    if (command === 'ADD') {
      const result = await callAgent<CniAddResult>(conf.agentSocket, '/v1/cni/add', req, conf.agentTimeoutMs ?? AGENT_TIMEOUT_MS);
      const out = prevResult ? mergeChained({ ...prevResult, dns: (conf.prevResult as { dns?: unknown }).dns }, result, req.ifname, req.netns) : result;
      return { code: 0, stdout: JSON.stringify(forVersion(out, version)) };
    }
    await callAgent(conf.agentSocket, command === 'DEL' ? '/v1/cni/del' : '/v1/cni/check', req, conf.agentTimeoutMs ?? AGENT_TIMEOUT_MS);
    return { code: 0, stdout: '' };
  } catch (err) {
    const e = err instanceof CniError ? err : new CniError(CNI_ERR.OTHER, (err as Error).message);
    const body = { cniVersion: version, code: e.cniCode, msg: e.message, ...(e.details ? { details: e.details } : {}) };
    return { code: 1, stdout: JSON.stringify(body) };
  }
}

export async function main(): Promise<void> {
  let stdin = '';
  try {
    stdin = readFileSync(0, 'utf8');
  } catch {
    /* no stdin (VERSION may come without) */
  }
  // runPlugin refuses a config larger than MAX_CONFIG_BYTES with a CNI error (never a truncated read).
  const out = await runPlugin(process.env, stdin);
  if (out.stdout) process.stdout.write(`${out.stdout}\n`);
  process.exitCode = out.code;
}
