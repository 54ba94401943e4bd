// Node faults on a cluster from a kubeconfig, through the node's privileged helper pod (hostNetwork:
// the node's devices and routes; hostPID: the node's processes). One fixed shell script does each
// action on the node (the action and its values are its arguments, never part of the script): it finds
// the CNI's processes by name among those in the helper's own network namespace — the node's — so
// on the embedded cluster, whose nodes share one host's process table, it picks the node's own agent
// and bird. Which agent and speaker exist depends on the CNI found: cnilab's agent and bird, Cilium's
// agent; anything else is "unsupported", not guessed at.
import type { RunResult } from '../../exec/run.js';
import { parseShowProtocols, type BgpSession } from '../../../lib/bgp/bird.js';
import { parseIpRoutesJson } from '../netns/bgp-convergence.js';
import { dropPackets, faultUnsupported, type AgentHealth, type BirdAction, type NodeFaults, type NodeRoute } from '../common/faults.js';
import type { Provider } from '../common/provider.js';

/** The node-side half. $0 is the action; state (the bird's argv, the routes of a pulled link) is kept
 *  in files named after the node's network namespace inode, so helpers sharing a /tmp never mix. */
export const NODE_FAULT_SCRIPT = String.raw`set -u
act="$0"
self=$(readlink /proc/self/ns/net)
state=/tmp/cnilab-fault-$(stat -L -c %i /proc/self/ns/net)
mine() { for p in $(pgrep "$@"); do [ "$(readlink /proc/$p/ns/net 2>/dev/null)" = "$self" ] && echo "$p"; done; return 0; }
args_of() { tr '\0' '\n' < "/proc/$1/cmdline"; }
bird_pid() { mine -x bird | head -n1; }
ctl() { sed -n '/^-s$/{n;p;}'; }
agent_sock() {
  inodes=" $(for f in /proc/"$1"/fd/*; do readlink "$f"; done 2>/dev/null | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p' | tr '\n' ' ')"
  awk -v want="$inodes" '$NF ~ /\/agent\.sock$/ && index(want, " " $7 " ") { print $NF; exit }' "/proc/$1/net/unix"
}
# A command in the mount namespace of process $1 (a container's birdc and bird control socket), or
# here when that is ours (the embedded cluster's nodes share the host's).
in_mnt_of() { p=$1; shift; if [ "$(readlink /proc/$p/ns/mnt)" = "$(readlink /proc/self/ns/mnt)" ]; then "$@"; else nsenter -t "$p" -m -- "$@"; fi; }
dev_of() { ip -o -4 addr show | awk -v ip="$1" '{split($4,a,"/"); if (a[1]==ip) {print $2; exit}}'; }
case "$act" in
agent-pids) mine -f "$1" ;;
agent-kill)
  pids=$(mine -f "$1"); [ -n "$pids" ] || { echo "no agent process ($1) in this node's network namespace" >&2; exit 3; }
  kill -KILL $pids; echo $pids ;;
agent-api)
  pid=$(mine -f "$1" | head -n1); [ -n "$pid" ] || { echo "no agent process ($1) in this node's network namespace" >&2; exit 3; }
  # The socket the agent itself listens on (its own fd, by inode), seen through its root: in a
  # DaemonSet's container the path is the container's. Failing that, the embedded layout's guess.
  sock=$(agent_sock "$pid")
  [ -n "$sock" ] || sock="$(dirname "$(args_of "$pid" | sed -n 's/^--config=//p')")/agent.sock"
  dir="/proc/$pid/root$(dirname "$sock")"
  [ -S "$dir/agent.sock" ] || { echo "no agent socket at $sock (agent pid $pid)" >&2; exit 4; }
  # A relative path: sun_path holds 108 bytes, and /proc/<pid>/root/... can be longer.
  cd "$dir" && exec curl -sS --max-time 2 --unix-socket agent.sock "http://agent$2" ;;
bird-kill|bird-freeze|bird-thaw|bird-down|bird-sessions)
  pid=$(bird_pid); [ -n "$pid" ] || { echo "no bird in this node's network namespace" >&2; exit 3; }
  # A bird that a fault may end leaves its argv behind, for bird-restore.
  # Its mount namespace too: a process that shares it (the agent) is where it is started again.
  case "$act" in bird-kill|bird-down) args_of "$pid" > "$state.bird"; readlink "/proc/$pid/ns/mnt" > "$state.mnt" ;; esac
  case "$act" in
  bird-kill) kill -KILL "$pid" ;; bird-freeze) kill -STOP "$pid" ;; bird-thaw) kill -CONT "$pid" ;;
  bird-down) in_mnt_of "$pid" birdc -s "$(args_of "$pid" | ctl)" down ;;
  bird-sessions) in_mnt_of "$pid" birdc -s "$(args_of "$pid" | ctl)" show protocols ;;
  esac ;;
bird-restore)
  pid=$(bird_pid); if [ -n "$pid" ]; then kill -CONT "$pid"; rm -f "$state.bird" "$state.mnt"; exit 0; fi
  [ -s "$state.bird" ] || { echo "no bird was seen on this node: nothing to restore" >&2; exit 3; }
  # The same argv as the bird that ran (the agent's conf, ctl and pidfile: the agent adopts it).
  host=self; mnt=$(cat "$state.mnt" 2>/dev/null)
  if [ -n "$mnt" ] && [ "$mnt" != "$(readlink /proc/self/ns/mnt)" ]; then
    for d in /proc/[0-9]*; do
      [ "$(readlink "$d/ns/mnt" 2>/dev/null)" = "$mnt" ] && [ "$(readlink "$d/ns/net" 2>/dev/null)" = "$self" ] && { host=$(basename "$d"); break; }
    done
    [ "$host" != self ] || { echo "no process is left in bird's mount namespace to start it in" >&2; exit 5; }
  fi
  set -- $(cat "$state.bird"); in_mnt_of "$host" "$@" </dev/null >/dev/null 2>&1 || exit 5
  for i in $(seq 50); do
    in_mnt_of "$host" birdc -s "$(ctl < "$state.bird")" show status 2>/dev/null | grep -q 'Daemon is up' && { rm -f "$state.bird" "$state.mnt"; exit 0; }
    sleep 0.1
  done
  echo "bird did not answer after its restart" >&2; exit 5 ;;
link-down)
  dev=$(dev_of "$1"); [ -n "$dev" ] || { echo "no device holds $1" >&2; exit 3; }
  # Routes the kernel will not put back by itself (static ones: the default route); bird's come back
  # with its sessions.
  ip -4 route show dev "$dev" | grep -v -e 'proto kernel' -e 'proto bird' > "$state.routes"
  echo "$dev" > "$state.dev"
  # A dead man's switch: on a real node the exec that would bring the link up again runs through the
  # link; this puts it back after $2 s whatever happens.
  setsid sh -c 'sleep "$0"; ip link set "$1" up; while read -r r; do ip route replace $r dev "$1"; done < "$2"' "$2" "$dev" "$state.routes" </dev/null >/dev/null 2>&1 &
  echo $! > "$state.deadman"
  ip link set "$dev" down ;;
link-up)
  dev=$(cat "$state.dev" 2>/dev/null || dev_of "$1"); [ -n "$dev" ] || { echo "no device holds $1" >&2; exit 3; }
  [ -s "$state.deadman" ] && kill "$(cat "$state.deadman")" 2>/dev/null
  ip link set "$dev" up || exit 5
  [ -f "$state.routes" ] && while read -r r; do ip route replace $r dev "$dev"; done < "$state.routes"
  rm -f "$state.routes" "$state.dev" "$state.deadman" ;;
*) echo "unknown action $act" >&2; exit 2 ;;
esac`;

/** The node agent's process, as pgrep -f patterns (a bracket keeps a pattern from matching itself). */
export function agentPattern(cni: string): string | undefined {
  if (/^cnilab\b/.test(cni)) return 'agent/mai[n]\\.js';
  if (/^cilium\b/.test(cni)) return 'cilium-agen[t]';
  return undefined;
}

/** What the fault actions need of the provider: node commands, the nodes' addresses, the CNI. */
type NodeAccess = Pick<Provider, 'execOnNode' | 'nodes' | 'cni'>;

export class KubeconfigNodeFaults implements NodeFaults {
  /** An exec per reading: a few a second per node. */
  readonly pollMs = 250;
  private cniFound?: Promise<string>;
  private ips?: Promise<Map<string, string>>;

  constructor(private readonly p: NodeAccess) {}

  private cni(): Promise<string> {
    this.cniFound ??= this.p.cni();
    return this.cniFound;
  }

  private async pattern(what: string): Promise<string> {
    const cni = await this.cni();
    const pat = agentPattern(cni);
    if (!pat) throw faultUnsupported(`${what} on CNI ${cni}`, "a CNI whose node agent cnilab knows (cnilab's or Cilium's agent)");
    return pat;
  }

  private async cnilabOnly(what: string, needs: string): Promise<void> {
    const cni = await this.cni();
    if (!/^cnilab\b/.test(cni)) throw faultUnsupported(`${what} on CNI ${cni}`, needs);
  }

  private async sh(node: string, args: string[], timeoutMs = 10_000): Promise<RunResult> {
    return this.p.execOnNode(node, ['sh', '-c', NODE_FAULT_SCRIPT, ...args], { allowFailure: true, timeoutMs });
  }

  private async ok(node: string, args: string[], timeoutMs?: number): Promise<RunResult> {
    const r = await this.sh(node, args, timeoutMs);
    if (r.code !== 0) throw new Error(`${args[0]} on node ${node} (helper pod) exited ${r.code}${r.timedOut ? ' (timed out)' : ''}: ${r.stderr.trim() || r.stdout.trim()}`);
    return r;
  }

  async killAgents(nodes: string[]): Promise<Map<string, number>> {
    const pat = await this.pattern('killing the CNI agent');
    const out = new Map<string, number>();
    await Promise.all(nodes.map(async (n) => out.set(n, Number((await this.ok(n, ['agent-kill', pat])).stdout.trim().split(/\s+/)[0]))));
    return out;
  }

  async agentPid(node: string): Promise<number | undefined> {
    const r = await this.ok(node, ['agent-pids', await this.pattern('finding the CNI agent')]);
    const pid = r.stdout.trim().split(/\s+/)[0];
    return pid ? Number(pid) : undefined;
  }

  private async agentApi(node: string, path: string): Promise<unknown> {
    await this.cnilabOnly(`reading the agent API (${path})`, "cnilab's agent API on the node");
    const r = await this.ok(node, ['agent-api', await this.pattern('reading the agent API'), path], 5000);
    return JSON.parse(r.stdout) as unknown;
  }

  async agentHealth(node: string): Promise<AgentHealth> {
    return (await this.agentApi(node, '/v1/healthz')) as AgentHealth;
  }

  async dropCount(node: string, reason: number): Promise<bigint> {
    return dropPackets(((await this.agentApi(node, '/v1/maps')) as { drops: Array<{ reason: number; packets: string }> }).drops, reason);
  }

  async bird(node: string, action: BirdAction): Promise<void> {
    await this.cnilabOnly(`bird ${action}`, "bird as the node's BGP speaker (cnilab in native routing)");
    await this.ok(node, [`bird-${action}`], 15_000);
  }

  private async ipOf(node: string): Promise<string> {
    this.ips ??= this.p.nodes().then((ns) => new Map(ns.map((n) => [n.name, n.ip])));
    const ip = (await this.ips).get(node);
    if (!ip) throw new Error(`node ${node} has no InternalIP address`);
    return ip;
  }

  /** Down with a dead man's switch (up again after 60 s if the up never comes). */
  async setLink(node: string, state: 'up' | 'down'): Promise<void> {
    await this.ok(node, state === 'down' ? ['link-down', await this.ipOf(node), '60'] : ['link-up', await this.ipOf(node)]);
  }

  async birdRoutes(node: string): Promise<NodeRoute[]> {
    const r = await this.p.execOnNode(node, ['ip', '-j', 'route', 'show', 'proto', 'bird'], { allowFailure: true, timeoutMs: 5000 });
    if (r.code !== 0) throw new Error(`cannot read ${node}'s routes: ip exited ${r.code}${r.timedOut ? ' (timed out)' : ''}: ${r.stderr.trim()}`);
    return parseIpRoutesJson(r.stdout, node);
  }

  async bgpSessions(node: string): Promise<BgpSession[]> {
    await this.cnilabOnly('reading BGP sessions', "bird as the node's BGP speaker (cnilab in native routing)");
    return parseShowProtocols((await this.ok(node, ['bird-sessions'], 5000)).stdout).filter((s) => s.proto === 'BGP');
  }
}
