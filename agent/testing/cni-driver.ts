// A container runtime's side of CNI, as small as the agent's root tests need it: run each plugin of a
// network configuration list as a separate executable (CNI_* environment, config on stdin), ADD in
// order with prevResult passed along, CHECK in order with the ADD's result, DEL in reverse order. The
// cluster's own runtime (harness/providers/common) is the harness's; the agent's tests drive the
// plugin the way any runtime would, with nothing of the harness.
import { access, constants } from 'node:fs/promises';
import { run } from '../../lib/exec/run.js';

export interface CniConfList {
  cniVersion: string;
  name: string;
  plugins: Array<Record<string, unknown> & { type: string }>;
}

export interface CniInvocation {
  containerId: string;
  netns: string;
  ifname: string;
  cniPath: string[];
  args?: Record<string, string>;
  /** The node's network namespace, where a runtime on that node runs its plugins. */
  runInNetns?: string;
}

export interface CniResult {
  cniVersion: string;
  interfaces?: Array<{ name: string; mac?: string; sandbox?: string; mtu?: number }>;
  ips?: Array<{ address: string; gateway?: string; interface?: number }>;
  routes?: Array<{ dst: string; gw?: string }>;
}

/** A plugin failed: its CNI error code (when it printed an error object) and message. */
export class CniPluginError extends Error {
  constructor(
    readonly plugin: string,
    readonly cniCode: number | undefined,
    msg: string,
  ) {
    super(`CNI plugin "${plugin}" failed${cniCode !== undefined ? ` (code ${cniCode})` : ''}: ${msg}`);
  }
}

async function invoke(command: 'ADD' | 'DEL' | 'CHECK', plugin: CniConfList['plugins'][number], list: CniConfList, inv: CniInvocation, prevResult?: CniResult): Promise<CniResult | undefined> {
  let exe: string | undefined;
  for (const d of inv.cniPath) {
    const candidate = `${d}/${plugin.type}`;
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) {
      exe = candidate;
      break;
    }
  }
  if (!exe) throw new CniPluginError(plugin.type, undefined, `not found in ${inv.cniPath.join(':')}`);
  const env: Record<string, string> = {
    CNI_COMMAND: command,
    CNI_CONTAINERID: inv.containerId,
    CNI_NETNS: inv.netns,
    CNI_IFNAME: inv.ifname,
    CNI_PATH: inv.cniPath.join(':'),
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    ...(inv.args ? { CNI_ARGS: Object.entries(inv.args).map(([k, v]) => `${k}=${v}`).join(';') } : {}),
  };
  const netconf = { ...plugin, cniVersion: list.cniVersion, name: list.name, ...(prevResult ? { prevResult } : {}) };
  const res = await run([exe], { netns: inv.runInNetns, env, replaceEnv: true, input: JSON.stringify(netconf), allowFailure: true, timeoutMs: 30_000 });
  if (res.code !== 0) {
    let code: number | undefined;
    let msg = res.stderr.trim() || `exit ${res.code}`;
    try {
      const err = JSON.parse(res.stdout) as { code?: number; msg?: string };
      code = err.code;
      msg = err.msg ?? msg;
    } catch {
      /* not a CNI error object */
    }
    throw new CniPluginError(plugin.type, code, msg);
  }
  return command === 'ADD' ? (JSON.parse(res.stdout) as CniResult) : undefined;
}

export async function cniAdd(list: CniConfList, inv: CniInvocation): Promise<CniResult> {
  let result: CniResult | undefined;
  for (const p of list.plugins) result = await invoke('ADD', p, list, inv, result);
  return result!;
}

export async function cniCheck(list: CniConfList, inv: CniInvocation, prevResult: CniResult): Promise<void> {
  for (const p of list.plugins) await invoke('CHECK', p, list, inv, prevResult);
}

export async function cniDel(list: CniConfList, inv: CniInvocation, prevResult?: CniResult): Promise<void> {
  for (const p of [...list.plugins].reverse()) await invoke('DEL', p, list, inv, prevResult);
}
