// Which of an idle cluster's processes a CPU tick belongs to (bench/idle-cpu-bench.ts).
import { describe, expect, it } from 'vitest';
import { kindOf } from './idle-cpu-bench.js';
import { paths, processMarker } from '../harness/cluster/names.js';

describe('idle CPU bench: processes by kind', () => {
  const m = processMarker('lab');
  it('names the cluster\'s own processes, bird by its run directory, and nobody else\'s', () => {
    expect(kindOf(['/usr/bin/node', '/x/dist/agent/main.js', m, `--config=${paths.runDir('lab')}/nodes/node1/agent-config.yaml`], 'lab')).toBe('agents');
    expect(kindOf(['/usr/bin/node', '/x/dist/harness/cluster/daemon.js', m], 'lab')).toBe('daemon');
    expect(kindOf(['/usr/bin/node', '/x/dist/harness/cluster/supervisor.js', m], 'lab')).toBe('supervisor');
    expect(kindOf(['/usr/bin/node', '/x/dist/harness/traffic/agnhost/host-process.js', m, '--node=node1'], 'lab')).toBe('host processes');
    expect(kindOf(['bird', '-c', `${paths.runDir('lab')}/nodes/node1/bird.conf`, '-s', 'x'], 'lab')).toBe('bird');
    expect(kindOf(['/usr/sbin/bird', '-c', `${paths.runDir('lab2')}/nodes/node1/bird.conf`], 'lab')).toBeUndefined();
    expect(kindOf(['/usr/bin/node', '/x/dist/agent/main.js', processMarker('lab2')], 'lab')).toBeUndefined();
  });
});
