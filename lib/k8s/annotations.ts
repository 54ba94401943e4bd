// Annotations on Node objects that the node agents and the harness exchange through the Kubernetes API.
//
// Realized revision (what `cnilab apply --wait` waits for): the waiter sets WANTED on each Node to a
// resourceVersion R; that node's agent answers, once its datapath holds everything the API had up to
// R (every watched kind has delivered its events up to R), with REALIZED ≥ R and LAST_WRITE, the
// resourceVersion of the last object it wrote itself (a relabelled pod's CiliumEndpoint, a new
// CiliumIdentity): realizing a change can cause writes the other nodes must see in turn. PROBLEM says
// why an agent cannot realize R (a policy it cannot enforce), so the waiter fails instead of waiting.
// Agents answer only when asked: a published revision is itself a change, and agents that published
// every change they saw would wake each other forever.
export const POLICY_WANTED_REVISION = 'policy.cnilab.dev/wanted-revision';
export const POLICY_REALIZED_REVISION = 'policy.cnilab.dev/realized-revision';
export const POLICY_LAST_WRITE_REVISION = 'policy.cnilab.dev/last-write-revision';
export const POLICY_PROBLEM = 'policy.cnilab.dev/problem';

// What cilium-agent publishes on its Node: the router IP on cilium_host and the node's pod CIDR.
export const CILIUM_HOST_IP = 'network.cilium.io/ipv4-cilium-host';
export const CILIUM_POD_CIDR = 'network.cilium.io/ipv4-pod-cidr';
