// The faults suite: the cluster under agent restarts, BGP peer loss and a pulled underlay link. The
// scenarios share one workload (faults/workload.ts) and each restores what it broke, so they run in
// any order after the other suites on the same cluster. Link-down goes last: its recovery is the one
// the others' would least survive being interleaved with.
import type { Suite } from '../framework/model.js';
import { agentRestartScenario } from './agent-restart.js';
import { bgpPeerLossScenario } from './bgp-peer-loss.js';
import { linkDownScenario } from './link-down.js';

export const faultsSuite: Suite = {
  name: 'faults',
  scenarios: [agentRestartScenario, bgpPeerLossScenario, linkDownScenario],
  // Faults disturb the network on purpose and run a stream beside them: exact counter deltas per probe
  // batch are the connectivity and visibility suites' business (two CI runs saw other traffic in them).
  exactCounters: false,
};
