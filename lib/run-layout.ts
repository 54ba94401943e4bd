// Where the embedded cluster keeps a node agent's API socket: named here because both sides need it
// (harness/cluster/names.ts derives every other run-time path; the agent's API client, which the
// harness and the tests use, finds an agent by cluster and node).
export const RUN_ROOT = '/run/cnilab';
export const agentSocketPath = (cluster: string, node: string) => `${RUN_ROOT}/${cluster}/nodes/${node}/agent.sock`;
