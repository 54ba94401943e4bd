// Validation of names that come from users, and every name cnilab derives from them (network
// namespaces, run-time directories, BPF pin paths, interface names). Keeping the derivations in one
// module is what lets `cnilab down --all` find everything a crashed run left behind.
import { InvalidInputError } from '../errors.js';
import { agentSocketPath } from '../../lib/run-layout.js';

/** A DNS-1123 label: lower-case alphanumerics and '-', starting and ending alphanumeric, 1..63. */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Linux limits interface names to 15 bytes (IFNAMSIZ 16 with the NUL). */
export const IFNAME_MAX = 15;
/** Cluster names appear in netns names, paths and process markers; kept short so they stay readable. */
export const CLUSTER_NAME_MAX = 32;

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

/** Throws InvalidInputError naming `field` unless `value` is a DNS-1123 label of at most `max` chars. */
export function validateLabel(field: string, value: unknown, max = 63): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidInputError(field, `expected a non-empty name, got ${JSON.stringify(value)}`);
  }
  if (value.length > max) {
    throw new InvalidInputError(field, `"${value}" is ${value.length} characters; at most ${max} allowed`);
  }
  if (!DNS1123_LABEL.test(value)) {
    throw new InvalidInputError(
      field,
      `"${value}" is not a valid name: use lower-case letters, digits and '-', starting and ending with a letter or digit (a DNS-1123 label)`,
    );
  }
  return value;
}

export function validateClusterName(value: unknown, field = '--name'): string {
  return validateLabel(field, value, CLUSTER_NAME_MAX);
}

/** Node names become interface names on the fabric bridge, so they must fit IFNAMSIZ. */
export function validateNodeName(value: unknown, field: string): string {
  validateLabel(field, value, 63);
  const s = value as string;
  if (s.length > IFNAME_MAX) {
    throw new InvalidInputError(
      field,
      `"${s}" is ${s.length} characters; node names become interface names, which Linux limits to ${IFNAME_MAX}`,
    );
  }
  return s;
}

/** Prefix of every network namespace, directory and process marker cnilab creates. */
export const PREFIX = 'cnilab';
/** Prefix of any link cnilab might create outside its own namespaces (kept out of the host netns by design). */
export const LINK_PREFIX = 'cnl';

export const RUN_ROOT = '/run/cnilab';
export const BPF_ROOT = '/sys/fs/bpf/cnilab';
export const NETNS_DIR = '/run/netns';

// Namespace names use '.' as the separator: DNS-1123 labels cannot contain dots, so the parts can
// always be told apart ("x.a-b" is never confused with "x-a.b").
export const netnsNames = {
  fabric: (cluster: string) => `${PREFIX}.${cluster}.fabric`,
  node: (cluster: string, node: string) => `${PREFIX}.${cluster}.node.${node}`,
  pod: (cluster: string, namespace: string, pod: string) => `${PREFIX}.${cluster}.pod.${namespace}.${pod}`,
  /** A host outside the cluster on the fabric (NodePort clients in the services scenario). */
  outside: (cluster: string) => `${PREFIX}.${cluster}.outside`,
  /** Every namespace of one cluster starts with this. */
  clusterPrefix: (cluster: string) => `${PREFIX}.${cluster}.`,
  /** Parse a netns name back to its cluster, or undefined if it is not cnilab's. */
  clusterOf: (netns: string): string | undefined => {
    const m = /^cnilab\.([a-z0-9-]+)\./.exec(netns);
    return m ? m[1] : undefined;
  },
};

export const paths = {
  runDir: (cluster: string) => `${RUN_ROOT}/${cluster}`,
  controlSocket: (cluster: string) => `${RUN_ROOT}/${cluster}/control.sock`,
  daemonPid: (cluster: string) => `${RUN_ROOT}/${cluster}/daemon.pid`,
  daemonLog: (cluster: string) => `${RUN_ROOT}/${cluster}/daemon.log`,
  /** The control plane's supervisor (restarts a crashed daemon): its pid, and what it saw (JSON). */
  supervisorPid: (cluster: string) => `${RUN_ROOT}/${cluster}/supervisor.pid`,
  controlPlaneState: (cluster: string) => `${RUN_ROOT}/${cluster}/control-plane.json`,
  /** Written when the control plane cannot be brought back (JSON {reason, at}): the cluster is broken. */
  broken: (cluster: string) => `${RUN_ROOT}/${cluster}/broken.json`,
  /** The object store, persisted so a restarted daemon resumes where the crashed one stopped. */
  storeSnapshot: (cluster: string) => `${RUN_ROOT}/${cluster}/store.json`,
  /** CNI ADD results by pod, as a container runtime caches them (DEL of an adopted pod needs them). */
  cniCacheDir: (cluster: string) => `${RUN_ROOT}/${cluster}/cni-results`,
  state: (cluster: string) => `${RUN_ROOT}/${cluster}/cluster.json`,
  /** Written by `up` once the namespaces and links exist; the daemon waits for it before pods and agents. */
  networkReady: (cluster: string) => `${RUN_ROOT}/${cluster}/network-ready`,
  /** BGP convergence measured by `up` in native mode (JSON). */
  bgpConvergence: (cluster: string) => `${RUN_ROOT}/${cluster}/bgp-convergence.json`,
  /** The Kubernetes API's CA, serving certificate, bearer token and kubeconfig (written by the daemon at `up`). */
  kubeDir: (cluster: string) => `${RUN_ROOT}/${cluster}/kube`,
  kubeconfig: (cluster: string) => `${RUN_ROOT}/${cluster}/kube/kubeconfig`,
  /** Container logs, as kubelet keeps them under /var/log/pods: one file per container. */
  podLogDir: (cluster: string, namespace: string, pod: string) => `${RUN_ROOT}/${cluster}/pods/${namespace}.${pod}`,
  nodeDir: (cluster: string, node: string) => `${RUN_ROOT}/${cluster}/nodes/${node}`,
  agentSocket: agentSocketPath,
  /** The agent's config file (agent/config.ts), written by the daemon: what a DaemonSet would mount. */
  agentConfig: (cluster: string, node: string) => `${RUN_ROOT}/${cluster}/nodes/${node}/agent-config.yaml`,
  /** The agents' kubeconfig: the API on the fabric (the node namespaces cannot reach the host's loopback). */
  agentKubeconfig: (cluster: string) => `${RUN_ROOT}/${cluster}/kube/agent.kubeconfig`,
  /** The flow relay (every node's GetFlows merged) and the merged metrics, served by the daemon. */
  relaySocket: (cluster: string) => `${RUN_ROOT}/${cluster}/relay.sock`,
  bpfDir: (cluster: string) => `${BPF_ROOT}/${cluster}`,
  bpfNodeDir: (cluster: string, node: string) => `${BPF_ROOT}/${cluster}/${node}`,
};

/** The argv marker carried by every long-running process cnilab starts outside a cnilab netns,
 *  so a sweep can find it by its command line. */
export function processMarker(cluster: string): string {
  return `--cnilab-cluster=${cluster}`;
}
