// The container runtime's side of CNI (spec 1.0.0): what containerd does through libcni.
// Invokes each plugin of a network configuration list in order for ADD (passing prevResult along the
// chain) and in reverse order for DEL, with the CNI_* environment and the config on stdin.
import { access, constants } from 'node:fs/promises';
import { CnilabError } from '../../errors.js';
import { run, shellQuote } from '../../exec/run.js';

export interface CniConfList {
  cniVersion: string;
  name: string;
  plugins: Array<Record<string, unknown> & { type: string }>;
}

export interface CniInvocation {
  containerId: string;
  netns: string;
  ifname: string;
  /** Directories searched for plugin executables. */
  cniPath: string[];
  /** CNI_ARGS, e.g. K8S_POD_NAMESPACE / K8S_POD_NAME as kubelet passes them. */
  args?: Record<string, string>;
  /** Run the plugin inside this network namespace (the node's), as a runtime on that node would. */
  runInNetns?: string;
  timeoutMs?: number;
}

export interface CniResult {
  cniVersion: string;
  interfaces?: Array<{ name: string; mac?: string; sandbox?: string; mtu?: number }>;
  ips?: Array<{ address: string; gateway?: string; interface?: number }>;
  routes?: Array<{ dst: string; gw?: string }>;
  dns?: unknown;
}

/** A CNI plugin's error object ({code, msg, details}) or a plugin that failed without one. */
export class CniPluginError extends CnilabError {
  constructor(
    readonly plugin: string,
    readonly command: string,
    readonly cniCode: number | undefined,
    msg: string,
    detail?: string,
  ) {
    super('COMMAND_FAILED', `CNI ${command} by plugin "${plugin}" failed${cniCode !== undefined ? ` (code ${cniCode})` : ''}: ${msg}`, {
      detail,
    });
  }
}

async function invoke(
  command: 'ADD' | 'DEL' | 'CHECK',
  plugin: Record<string, unknown> & { type: string },
  list: CniConfList,
  inv: CniInvocation,
  prevResult?: CniResult,
): Promise<CniResult | undefined> {
  const netconf = { ...plugin, cniVersion: list.cniVersion, name: list.name, ...(prevResult ? { prevResult } : {}) };
  const env: Record<string, string> = {
    CNI_COMMAND: command,
    CNI_CONTAINERID: inv.containerId,
    CNI_NETNS: inv.netns,
    CNI_IFNAME: inv.ifname,
    CNI_PATH: inv.cniPath.join(':'),
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
  };
  if (inv.args) env.CNI_ARGS = Object.entries(inv.args).map(([k, v]) => `${k}=${v}`).join(';');
  const exe = await resolvePlugin(plugin.type, inv.cniPath);
  const res = await run([exe], {
    netns: inv.runInNetns,
    env,
    replaceEnv: true,
    input: JSON.stringify(netconf),
    timeoutMs: inv.timeoutMs ?? 30_000,
    allowFailure: true,
  });
  if (res.code !== 0) {
    let code: number | undefined;
    let msg = res.stderr.trim() || `exit ${res.code}`;
    let details: string | undefined;
    try {
      const err = JSON.parse(res.stdout);
      code = err.code;
      msg = err.msg ?? msg;
      details = err.details;
    } catch {
      /* not a CNI error object */
    }
    const envText = Object.entries(env).filter(([k]) => k.startsWith('CNI_')).map(([k, v]) => `${k}=${v}`).join(' ');
    throw new CniPluginError(plugin.type, command, code, msg, [details, `command: ${envText} ${shellQuote(res.argv)}`, res.stderr.trim()].filter(Boolean).join('\n'));
  }
  if (command !== 'ADD') return undefined;
  try {
    return JSON.parse(res.stdout) as CniResult;
  } catch {
    throw new CniPluginError(plugin.type, command, undefined, `plugin printed a result that is not JSON: ${res.stdout.slice(0, 200)}`);
  }
}

async function resolvePlugin(type: string, dirs: string[]): Promise<string> {
  if (type.includes('/')) throw new CniPluginError(type, 'ADD', 7, 'plugin type must be a plain name');
  for (const d of dirs) {
    try {
      await access(`${d}/${type}`, constants.X_OK);
      return `${d}/${type}`;
    } catch {
      /* next */
    }
  }
  throw new CniPluginError(type, 'ADD', undefined, `plugin executable "${type}" not found in ${dirs.join(':')}`);
}

/** ADD through the whole chain; returns the last plugin's result. */
export async function cniAdd(list: CniConfList, inv: CniInvocation): Promise<CniResult> {
  let result: CniResult | undefined;
  for (const plugin of list.plugins) result = await invoke('ADD', plugin, list, inv, result);
  if (!result) throw new CniPluginError(list.name, 'ADD', undefined, 'network configuration has no plugins');
  return result;
}

/** DEL through the chain in reverse; errors of every plugin are collected, the first one thrown. */
export async function cniDel(list: CniConfList, inv: CniInvocation, prevResult?: CniResult): Promise<void> {
  let first: unknown;
  for (const plugin of [...list.plugins].reverse()) {
    try {
      await invoke('DEL', plugin, list, inv, prevResult);
    } catch (e) {
      first ??= e;
    }
  }
  if (first) throw first;
}

export async function cniCheck(list: CniConfList, inv: CniInvocation, prevResult: CniResult): Promise<void> {
  for (const plugin of list.plugins) await invoke('CHECK', plugin, list, inv, prevResult);
}

/** The pod's IPv4 address (without prefix) from a CNI result. */
export function podIpFromResult(result: CniResult): string | undefined {
  const ip = result.ips?.find((i) => !i.address.includes(':'));
  return ip?.address.split('/')[0];
}
