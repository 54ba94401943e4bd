// Finding an agent's node from its command line (the agent's argv names its config file, not the node).
import { describe, expect, it } from 'vitest';
import { agentNodeOf } from './faults.js';

describe('agentNodeOf', () => {
  it('reads the node from the config path the cluster daemon gives each agent, and nothing else', () => {
    expect(agentNodeOf('/usr/bin/node /r/dist/agent/main.js --cnilab-cluster=lab --config=/run/cnilab/lab/nodes/node2/agent-config.yaml')).toBe('node2');
    expect(agentNodeOf('/usr/bin/node /r/dist/agent/main.js --cnilab-cluster=lab')).toBeUndefined();
    expect(agentNodeOf('/usr/bin/node /r/dist/agent/main.js --config=/etc/cnilab/agent-config.yaml')).toBeUndefined();
  });
});
