// What the agent publishes on its own Node object, as cilium-agent does: the router IP and pod CIDR as
// annotations, and the NetworkUnavailable condition set to False once the node's networking is up.
// And the answer to the harness's question "have you realized revision R?" (lib/k8s/annotations.ts):
// asked by an annotation on the Node, answered by another once the agent's policy state holds R.
import {
  CILIUM_HOST_IP,
  CILIUM_POD_CIDR,
  POLICY_LAST_WRITE_REVISION,
  POLICY_PROBLEM,
  POLICY_REALIZED_REVISION,
  POLICY_WANTED_REVISION,
} from '../../lib/k8s/annotations.js';
import type { AgentNode } from '../config.js';
import type { KubeInformers, StreamEvent } from './informers.js';
import { RESOURCES } from './resources.js';
import type { KubeTransport } from './transport.js';

export interface RealizedState {
  /** The resourceVersion up to which the datapath holds the policy state. */
  revision: number;
  /** Why it cannot advance, if it cannot. */
  problem?: string;
}

export class NodeStatusPublisher {
  private wanted = 0;
  private answered = 0;
  private problemShown?: string;
  private busy = false;
  private again = false;
  private stopWatch?: () => void;
  /** Counters, for status and tests. */
  readonly stats = { requests: 0, answers: 0, problems: 0 };

  constructor(
    private d: {
      transport: KubeTransport;
      informers: KubeInformers;
      node: AgentNode;
      realized: () => RealizedState;
      log: (m: string) => void;
    },
  ) {}

  /** Announce the node's networking (annotations, NetworkUnavailable=False) and start answering. */
  async start(): Promise<void> {
    const { transport, node } = this.d;
    await transport.mergePatch(RESOURCES.Node, undefined, node.name, { metadata: { annotations: { [CILIUM_HOST_IP]: node.podGateway, [CILIUM_POD_CIDR]: node.podCidr } } }, undefined, { untracked: true });
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    // A strategic merge patch: conditions merge by type, so kubelet's own (Ready) stay.
    await transport.request(
      'PATCH',
      transport.path(RESOURCES.Node, undefined, node.name, 'status'),
      { status: { conditions: [{ type: 'NetworkUnavailable', status: 'False', reason: 'CnilabIsUp', message: 'cnilab agent is running on this node', lastTransitionTime: now, lastHeartbeatTime: now }] } },
      'application/strategic-merge-patch+json',
      { untracked: true },
    );
    this.stopWatch = this.d.informers.watch(['Node'], (ev) => this.onNode(ev));
  }

  stop(): void {
    this.stopWatch?.();
  }

  private onNode(ev: StreamEvent): void {
    if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED') return;
    if (ev.object.metadata.name !== this.d.node.name) return;
    const w = Number(ev.object.metadata.annotations?.[POLICY_WANTED_REVISION] ?? 0);
    if (Number.isFinite(w) && w > this.wanted) {
      this.wanted = w;
      this.stats.requests++;
      this.check();
    }
  }

  /** Something changed (a flush of the policy state): answer a pending question if it can be answered now. */
  check(): void {
    if (this.wanted <= this.answered) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    const st = this.d.realized();
    let patch: Record<string, string | null> | undefined;
    let answering = 0;
    if (st.revision >= this.wanted) {
      answering = this.wanted;
      patch = { [POLICY_REALIZED_REVISION]: String(st.revision), [POLICY_LAST_WRITE_REVISION]: String(this.d.transport.lastWriteRevision), [POLICY_PROBLEM]: null };
    } else if (st.problem && st.problem !== this.problemShown) {
      patch = { [POLICY_PROBLEM]: st.problem.slice(0, 1024) };
    }
    if (!patch) return;
    this.busy = true;
    let failed = false;
    const problem = st.problem;
    this.d.transport
      .mergePatch(RESOURCES.Node, undefined, this.d.node.name, { metadata: { annotations: patch } }, undefined, { untracked: true })
      .then(
        () => {
          if (answering) {
            this.answered = Math.max(this.answered, answering);
            this.problemShown = undefined;
            this.stats.answers++;
          } else {
            this.problemShown = problem;
            this.stats.problems++;
          }
        },
        (e) => {
          failed = true;
          this.d.log(`node ${this.d.node.name}: publishing the realized revision: ${(e as Error).message}`);
        },
      )
      .finally(() => {
        this.busy = false;
        if (this.again || this.wanted > this.answered) {
          this.again = false;
          // A failed patch (the API away) is retried after a pause, not in a tight loop.
          setTimeout(() => this.check(), failed ? 500 : 0).unref();
        }
      });
  }
}
