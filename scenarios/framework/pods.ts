// The pods scenarios deploy, built one way: agnhost (cnilab's built-in implementation here, the real
// image on kind/K3s), pinned to a node so the path a check exercises is known, not guessed.

export const AGNHOST_IMAGE = 'registry.k8s.io/e2e-test-images/agnhost:2.47';

interface PodBase {
  name: string;
  namespace: string;
  node: string;
  labels: Record<string, string>;
}

function pinnedPod(p: PodBase, container: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace: p.namespace, labels: p.labels },
    spec: { nodeName: p.node, terminationGracePeriodSeconds: 0, containers: [container] },
  };
}

/** agnhost netexec answering HTTP on `httpPort` and, unless `udpPort` is omitted, UDP on `udpPort`. */
export function netexecPod(p: PodBase & { httpPort: number; udpPort?: number }): Record<string, unknown> {
  const ports: Array<Record<string, unknown>> = [{ name: 'http', containerPort: p.httpPort, protocol: 'TCP' }];
  if (p.udpPort !== undefined) ports.push({ name: 'udp', containerPort: p.udpPort, protocol: 'UDP' });
  return pinnedPod(p, {
    name: 'netexec',
    image: AGNHOST_IMAGE,
    args: ['netexec', `--http-port=${p.httpPort}`, `--udp-port=${p.udpPort ?? -1}`],
    ports,
  });
}

/** agnhost pause: holds the pod's namespace for tools the harness starts in it. */
export function pausePod(p: PodBase): Record<string, unknown> {
  return pinnedPod(p, { name: 'hold', image: AGNHOST_IMAGE, args: ['pause'] });
}

/** A DNS server pod: Debian's dnsmasq as the pod's command, answering `records` (name → IPv4) on UDP and
 *  TCP 53 and nothing else (no upstream, no /etc/hosts, no config file). */
export function dnsServerPod(p: PodBase & { records: Record<string, string> }): Record<string, unknown> {
  const addresses = Object.entries(p.records).map(([name, ip]) => `--address=/${name}/${ip}`);
  return pinnedPod(p, {
    name: 'dnsmasq',
    image: 'debian:bookworm',
    command: ['dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--pid-file=', '--user=root', '--log-facility=-', '--port=53', ...addresses],
    ports: [{ name: 'dns', containerPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' }],
  });
}
