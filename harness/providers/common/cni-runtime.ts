// The container runtime's side of CNI (spec 1.1.0): what containerd does through libcni.
// Invokes each plugin of a network configuration list in order for ADD (passing prevResult along the
// chain) and in reverse order for DEL, with the CNI_* environment and the config on stdin. A plugin
// answering 11 is retried; a failed ADD is followed by a DEL of the whole chain, as a runtime tears
// down a sandbox whose network set-up failed, so a half-made attachment never stays behind. STATUS
// and GC are sent only to conflists of cniVersion 1.1.0 or later, as the spec requires.
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
  /** Retries of a plugin answering 11 (default TRY_AGAIN). */
  retry?: { attempts?: number; firstDelayMs?: number };
  /** Told about each retry (for logs and tests). */
  onRetry?: (err: CniPluginError, attempt: number) => void;
}

/** CNI error code 11: the plugin asks the runtime to try again later. */
export const CNI_TRY_AGAIN_LATER = 11;

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

type Command = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC';

/** How often a plugin answering 11 ("try again later") is asked again, and the first pause. */
export const TRY_AGAIN = { attempts: 6, firstDelayMs: 100, maxDelayMs: 2000 };

async function invokeOnce(
  command: Command,
  plugin: Record<string, unknown> & { type: string },
  list: CniConfList,
  inv: CniInvocation,
  prevResult?: CniResult,
  extra: Record<string, unknown> = {},
): Promise<CniResult | undefined> {
  const netconf = { ...plugin, cniVersion: list.cniVersion, name: list.name, ...extra, ...(prevResult ? { prevResult } : {}) };
  const env: Record<string, string> = {
    CNI_COMMAND: command,
    CNI_PATH: inv.cniPath.join(':'),
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
  };
  // STATUS and GC concern the whole network, not one attachment: no container environment.
  if (command !== 'STATUS' && command !== 'GC') {
    Object.assign(env, { CNI_CONTAINERID: inv.containerId, CNI_NETNS: inv.netns, CNI_IFNAME: inv.ifname });
    if (inv.args) env.CNI_ARGS = Object.entries(inv.args).map(([k, v]) => `${k}=${v}`).join(';');
  }
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

/** One plugin call; a plugin answering 11 (try again later: its agent is restarting, say) is asked
 *  again after a doubling pause, as kubelet retries a sandbox whose network is not ready. */
async function invoke(
  command: Command,
  plugin: Record<string, unknown> & { type: string },
  list: CniConfList,
  inv: CniInvocation,
  prevResult?: CniResult,
  extra?: Record<string, unknown>,
): Promise<CniResult | undefined> {
  let delay = inv.retry?.firstDelayMs ?? TRY_AGAIN.firstDelayMs;
  const attempts = inv.retry?.attempts ?? TRY_AGAIN.attempts;
  for (let attempt = 1; ; attempt++) {
    try {
      return await invokeOnce(command, plugin, list, inv, prevResult, extra);
    } catch (e) {
      if (!(e instanceof CniPluginError && e.cniCode === CNI_TRY_AGAIN_LATER) || attempt >= attempts) throw e;
      inv.onRetry?.(e, attempt);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, TRY_AGAIN.maxDelayMs);
    }
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

/** ADD through the whole chain; returns the last plugin's result. On failure the whole chain gets a
 *  DEL (its errors are added to the ADD's detail) and the ADD's error is thrown. */
export async function cniAdd(list: CniConfList, inv: CniInvocation): Promise<CniResult> {
  let result: CniResult | undefined;
  try {
    for (const plugin of list.plugins) result = await invoke('ADD', plugin, list, inv, result);
  } catch (err) {
    try {
      await cniDel(list, inv);
    } catch (delErr) {
      if (err instanceof CnilabError) (err as { detail?: string }).detail = [err.detail, `DEL after the failed ADD also failed: ${(delErr as Error).message}`].filter(Boolean).join('\n');
    }
    throw err;
  }
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

/** Whether a conflist's version has STATUS and GC (1.1.0 or later). */
export function supportsV11(list: CniConfList): boolean {
  const [maj, min] = list.cniVersion.split('.').map(Number);
  return maj! > 1 || (maj === 1 && min! >= 1);
}

/** What the runtime needs to call the network-wide verbs (STATUS, GC). */
export type CniNetworkInvocation = Pick<CniInvocation, 'cniPath' | 'runInNetns' | 'timeoutMs' | 'retry' | 'onRetry'>;

const networkInv = (inv: CniNetworkInvocation): CniInvocation => ({ ...inv, containerId: '', netns: '', ifname: '' });

/**
 * STATUS of every plugin of the list: 'ready', or 'not-sent' for a conflist older than 1.1.0 (the
 * runtime must then assume ready). A plugin that is not ready throws its error (50 or 51).
 */
export async function cniStatus(list: CniConfList, inv: CniNetworkInvocation): Promise<'ready' | 'not-sent'> {
  if (!supportsV11(list)) return 'not-sent';
  for (const plugin of list.plugins) await invoke('STATUS', plugin, list, networkInv(inv));
  return 'ready';
}

/** GC: every plugin removes what it holds for attachments other than `valid`. Not sent before 1.1.0. */
export async function cniGc(list: CniConfList, inv: CniNetworkInvocation, valid: Array<{ containerID: string; ifname: string }>): Promise<'done' | 'not-sent'> {
  if (!supportsV11(list)) return 'not-sent';
  let first: unknown;
  for (const plugin of list.plugins) {
    try {
      await invoke('GC', plugin, list, networkInv(inv), undefined, { 'cni.dev/valid-attachments': valid });
    } catch (e) {
      first ??= e;
    }
  }
  if (first) throw first;
  return 'done';
}
