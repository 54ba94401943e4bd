import { test } from 'vitest';
import { mkdirSync, rmSync } from 'node:fs';
import { BpfObject, progTestRun, mapUpdate } from '../../agent/datapath/libbpf.js';
import { encodeEndpoint, u32Key, ipToBytes } from '../../agent/datapath/codec.js';
import { arpRequest, eth, ETH_P_IP, tcp, TCP, skbCtx } from './packets.js';

test('explore', () => {
  const dir = `/sys/fs/bpf/cnilab-test-explore`;
  mkdirSync(dir, { recursive: true });
  try {
    const obj = BpfObject.open('bpf/build/datapath.o', { pinRootPath: dir });
    obj.load();
    const ep = encodeEndpoint({ ifindex: 1, ip: '198.19.1.10', podMac: '02:00:00:00:00:0a', hostMac: '02:00:00:00:01:0a', identity: 1234, endpointId: 7 });
    mapUpdate(obj.mapFd('cnilab_lxc_if'), u32Key(1), ep);
    const fd = obj.programFd('from_container');
    for (const ctx of [undefined, skbCtx(1), skbCtx(0)]) {
      try {
        const r = progTestRun(fd, arpRequest('02:00:00:00:00:0a', '198.19.1.10', '198.19.1.1'), ctx);
        console.log('arp', ctx?.readUInt32LE(40), r.retval, r.dataOut.toString('hex'));
      } catch (e) { console.log('err', (e as Error).message); }
    }
    const r = progTestRun(fd, eth('02:00:00:00:01:0a', '02:00:00:00:00:0a', ETH_P_IP, tcp('198.19.1.10', '198.19.1.1', 1234, 80, TCP.SYN)), skbCtx(1));
    console.log('tcp', r.retval);
    obj.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
