// The node speaker's bird config: what it announces, what it accepts, and that bird parses it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BGP_TIMERS } from '../../lib/bgp/bird.js';
import { BgpSpeaker, speakerConfig } from './bgp.js';

const input = {
  nodeIp: '198.18.0.12',
  podCidr: '198.19.1.0/24',
  reflectorIp: '198.18.0.1',
  asn: 64512,
  podSubnet: '198.19.0.0/16',
  logFile: '/run/cnilab/lab/nodes/node2/bird.log',
};
const hasBird = spawnSync('bird', ['--version']).status === 0;

describe('speakerConfig', () => {
  const conf = speakerConfig(input);
  it('peers with the reflector in the cluster AS from the node address', () => {
    expect(conf).toContain('router id 198.18.0.12;');
    expect(conf).toContain('local 198.18.0.12 as 64512;');
    expect(conf).toContain('neighbor 198.18.0.1 as 64512;');
    for (const t of BGP_TIMERS) expect(conf).toContain(t);
  });
  it('announces exactly the pod CIDR, from a static route the kernel never sees', () => {
    expect(conf).toContain('define POD_CIDR = 198.19.1.0/24;');
    expect(conf).toContain('route POD_CIDR blackhole;');
    expect(conf).toContain('export where proto = "pod_cidr" && net = POD_CIDR;');
    expect(conf).toContain('export where source = RTS_BGP;'); // kernel: learned routes only
    expect(conf).not.toMatch(/krt_prefsrc/);
  });
  it('accepts only other nodes\' CIDRs inside the pod range', () => {
    expect(conf).toContain('import where net ~ [ 198.19.0.0/16+ ] && net != POD_CIDR;');
    expect(speakerConfig({ ...input, podSubnet: undefined })).toContain('import where net != POD_CIDR;');
  });
  it.skipIf(!hasBird)('is accepted by bird -p', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cnilab-bgp-unit-'));
    try {
      const file = join(dir, 'bird.conf');
      writeFileSync(file, speakerConfig({ ...input, logFile: join(dir, 'bird.log') }));
      const res = spawnSync('bird', ['-p', '-c', file], { encoding: 'utf8' });
      expect(res.status, res.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('BgpSpeaker', () => {
  it('keeps bird\'s files in the node directory', () => {
    const s = new BgpSpeaker({ cluster: 'lab', node: 'node2', nodeIp: input.nodeIp, podCidr: input.podCidr, reflectorIp: input.reflectorIp, runDir: '/run/cnilab/lab/nodes/node2' });
    expect(s.files).toMatchObject({
      conf: '/run/cnilab/lab/nodes/node2/bird.conf',
      ctl: '/run/cnilab/lab/nodes/node2/bird.ctl',
      pid: '/run/cnilab/lab/nodes/node2/bird.pid',
    });
  });
  it('reports a speaker with no bird as not running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cnilab-bgp-unit-'));
    try {
      const s = new BgpSpeaker({ cluster: 'lab', node: 'node2', nodeIp: input.nodeIp, podCidr: input.podCidr, reflectorIp: input.reflectorIp, runDir: dir });
      expect(await s.status()).toEqual({ running: false, established: false, sessions: [], routesImported: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
