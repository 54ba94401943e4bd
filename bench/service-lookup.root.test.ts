// bench_lb_lookup.o, the service-lookup benchmark's program: it must time a real lookup, so it must find
// the backend of a programmed service on the datapath's pinned maps, miss one that is not programmed
// (a benchmark of a program that always answers OK would time nothing), keep finding backends when
// asked for a random one of the services, and the kernel's repeat must report a duration.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfObject, progTestRun } from '../agent/datapath/libbpf.js';
import { openLbMaps } from '../agent/datapath/lb-maps.js';
import { TC_ACT } from '../agent/datapath/constants.js';
import { ServiceManager } from '../agent/service/manager.js';
import { buildAndMount, Harness, removePinDir, tempPinDir } from '../bpf/tests/fixture.js';
import { LOOKUP_OBJECT, lookupFrame, mapFill, programServices } from './service-lookup.js';

describe('bench_lb_lookup (service-scale lookup benchmark)', () => {
  let pinDir: string;
  let h: Harness;
  let maps: ReturnType<typeof openLbMaps>;
  let m: ServiceManager;
  let lookup: BpfObject;
  beforeAll(async () => {
    await buildAndMount();
    pinDir = tempPinDir('svclookup');
    h = new Harness(pinDir);
    maps = openLbMaps(pinDir);
    m = new ServiceManager({ maps, nodeName: 'node1' });
    programServices(m, 50);
    lookup = BpfObject.open(LOOKUP_OBJECT, { pinRootPath: pinDir });
    lookup.load();
  });
  afterAll(() => {
    lookup?.close();
    maps?.close();
    h?.close();
    if (pinDir) removePinDir(pinDir);
  });
  const run = (spread: number, repeat = 1) => progTestRun(lookup.programFd('lb_lookup_bench'), lookupFrame(spread), undefined, repeat);

  it('finds a backend of a programmed service, with the kernel timing 1000 repeats', () => {
    const r = run(0, 1000);
    expect(r.retval).toBe(TC_ACT.OK);
    expect(r.durationNs).toBeGreaterThan(0);
    // 50 services of 3 backends: a frontend and 3 slots each, 3 backends each.
    expect(mapFill(pinDir)).toMatch(/cnilab_lb_svc 200\/131072, cnilab_lb_be 150\/131072, cnilab_lb_mgl 0\/1024/);
  });

  it('a random one of the 50 services always has a backend; spreading past them misses', () => {
    for (let i = 0; i < 200; i++) expect(run(50).retval).toBe(TC_ACT.OK);
    // 5000 candidates of which 50 are programmed: some run must miss (p of no miss in 200 is ~e-195).
    const misses = Array.from({ length: 200 }, () => run(5000).retval).filter((v) => v === TC_ACT.SHOT).length;
    expect(misses).toBeGreaterThan(100);
  });

  it('misses once the service is deleted (the program reads the live maps)', () => {
    m.handle({ type: 'DELETED', object: { kind: 'Service', metadata: { name: 's1', namespace: 'b' }, spec: { type: 'ClusterIP', clusterIP: '198.18.64.1', ports: [{ name: 'tcp', port: 80, protocol: 'TCP', targetPort: 8080 }] } } as never });
    expect(run(0).retval).toBe(TC_ACT.SHOT);
  });
});
