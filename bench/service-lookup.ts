// The service-lookup benchmark's fixture, shared by bench/service-scale-lookup-bench.ts and its root
// test: a pod client, services of 3 backends at consecutive ClusterIPs programmed by the agent's own
// ServiceManager, the frame bench_lb_lookup.o reads, and how full the service-sized maps are.
import { join } from 'node:path';
import { REPO_ROOT } from '../lib/paths.js';
import { closeFd, mapInfo, mapKeys, objGet } from '../agent/datapath/libbpf.js';
import { LB_MAP } from '../agent/datapath/constants.js';
import type { EndpointEntry } from '../agent/datapath/types.js';
import type { ServiceManager } from '../agent/service/manager.js';
import { eth, ETH_P_IP, TCP, tcp } from '../bpf/tests/packets.js';

export const LOOKUP_OBJECT = join(REPO_ROOT, 'bpf/build/bench_lb_lookup.o');
/** The socket-LB object, from the source tree whether this runs from dist/ or from the sources. */
export const SOCK_LB_OBJECT = join(REPO_ROOT, 'bpf/build/bpf_sock.o');

export const CLIENT: EndpointEntry = { ifindex: 1, ip: '198.19.1.10', podMac: '02:00:00:00:00:0a', hostMac: '02:00:00:00:01:0a', identity: 1001, endpointId: 10 };
export const BACKENDS = ['198.19.2.30', '198.19.2.31', '198.19.2.32'];

/** The i-th ClusterIP of 198.18.64.0/18 (room for 16k). */
export const clusterIp = (i: number) => `198.18.${64 + (i >> 8)}.${i & 255}`;

export function programServices(m: ServiceManager, count: number): void {
  m.handle({ type: 'SYNCED' });
  for (let i = 1; i <= count; i++) {
    const name = `s${i}`;
    m.handle({ type: 'ADDED', object: { kind: 'Service', metadata: { name, namespace: 'b' }, spec: { type: 'ClusterIP', clusterIP: clusterIp(i), ports: [{ name: 'tcp', port: 80, protocol: 'TCP', targetPort: 8080 }] } } as never });
    m.handle({
      type: 'ADDED',
      object: {
        kind: 'EndpointSlice',
        metadata: { name: `${name}-1`, namespace: 'b', labels: { 'kubernetes.io/service-name': name } },
        addressType: 'IPv4',
        endpoints: BACKENDS.map((ip) => ({ addresses: [ip], conditions: { ready: true }, nodeName: 'node2' })),
        ports: [{ name: 'tcp', port: 8080, protocol: 'TCP' }],
      } as never,
    });
  }
}

/** A frame to the first service's ClusterIP, port 80, whose first payload word asks bench_lb_lookup for
 *  a random one of `spread` services per run (0: always that one). */
export function lookupFrame(spread: number, to: { ip: string; port: number } = { ip: clusterIp(1), port: 80 }): Buffer {
  const f = eth(CLIENT.hostMac, CLIENT.podMac, ETH_P_IP, tcp(CLIENT.ip, to.ip, 40000, to.port, TCP.SYN, Buffer.alloc(4)));
  f.writeUInt32LE(spread, 14 + 20 + 20);
  return f;
}

/** A frame to a backend, no service: the lookup every packet of an established socket-LB connection
 *  makes at tc (lb4_xlate_fwd's lb_lookup_service), which misses. */
export const missFrame = () => lookupFrame(0, { ip: BACKENDS[0]!, port: 8080 });

/** How full each service-sized map is ("cnilab_lb_svc 40012/131072"): a map at its max_entries would
 *  refuse services (the agent's update fails), which no timing shows. Keys are read, not assumed. */
export function mapFill(pinDir: string): string {
  return [LB_MAP.svc, LB_MAP.backends, LB_MAP.maglev]
    .map((name) => {
      const fd = objGet(join(pinDir, name));
      try {
        const info = mapInfo(fd);
        return `${name} ${mapKeys(fd, info.keySize).length}/${info.maxEntries}`;
      } finally {
        closeFd(fd);
      }
    })
    .join(', ');
}

