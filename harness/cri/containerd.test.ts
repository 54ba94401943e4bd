// The pieces of the CRI runtime that need no root: containerd's config, the mount and cgroup readers
// the sweep relies on, the CRI proto, and the locally built sandbox image.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../exec/run.js';
import { REPO_ROOT } from '../paths.js';
import { containerdConfig, containerdPaths, mountsUnder } from './containerd.js';
import { CriClient, sandboxNetnsPath } from './client.js';
import { buildPauseImage, PAUSE_BINARY, PAUSE_IMAGE } from './image.js';

describe('containerd config for a node', () => {
  const p = containerdPaths('lab', 'node1');
  const toml = containerdConfig(p);
  it('keeps everything under the node\'s directory', () => {
    expect(p.dir).toBe('/run/cnilab/lab/nodes/node1/cri');
    for (const line of [`root = "${p.root}"`, `state = "${p.state}"`, `address = "${p.socket}"`, `bin_dir = "${p.cniBinDir}"`, `conf_dir = "${p.cniConfDir}"`, `Root = "${p.state}/runc"`]) expect(toml).toContain(line);
    expect(toml).toContain('netns_mounts_under_state_dir = true');
    expect(p.cgroupParent).toBe('/cnilab/lab/node1');
  });
  it('uses runc through the v2 shim, the local pause image, and restricts oom_score_adj', () => {
    expect(toml).toContain('runtime_type = "io.containerd.runc.v2"');
    expect(toml).toContain(`sandbox_image = "${PAUSE_IMAGE}"`);
    expect(toml).toContain('restrict_oom_score_adj = true');
    expect(toml).toContain('"io.containerd.internal.v1.opt"'); // disabled: it would write /opt/containerd
  });
});

describe('mounts under a directory', () => {
  it('reads mountinfo, deepest first, only below the directory', () => {
    const info = [
      '50 27 0:4 net:[4026532537] /run/cnilab/lab/nodes/node1/cri/state/netns/cni-1 rw - nsfs nsfs rw',
      '51 27 0:60 / /run/cnilab/lab/nodes/node1/cri/state/task/x/rootfs rw - overlay overlay rw',
      '52 27 0:4 net:[4026532538] /run/cnilab/lab2/x rw - nsfs nsfs rw',
      '53 27 0:5 / /run/cnilab/lab rw - tmpfs tmpfs rw',
    ].join('\n');
    expect(mountsUnder('/run/cnilab/lab', info)).toEqual([
      '/run/cnilab/lab/nodes/node1/cri/state/task/x/rootfs',
      '/run/cnilab/lab/nodes/node1/cri/state/netns/cni-1',
      '/run/cnilab/lab',
    ]);
  });
});

describe('CRI client', () => {
  it('loads the CRI proto subset and finds a sandbox\'s netns in containerd\'s verbose info', () => {
    const c = new CriClient('/nonexistent/cri.sock');
    c.close();
    const info = { info: JSON.stringify({ runtimeSpec: { linux: { namespaces: [{ type: 'pid' }, { type: 'network', path: '/run/x/netns/cni-1' }] } } }) };
    expect(sandboxNetnsPath(info)).toBe('/run/x/netns/cni-1');
    expect(sandboxNetnsPath({})).toBeUndefined();
  });
  it('fails a call to a runtime that is not there with the method and gRPC status', async () => {
    const c = new CriClient(join(tmpdir(), 'cnilab-no-cri.sock'), 2000);
    await expect(c.version()).rejects.toThrow(/CRI Version failed \(UNAVAILABLE\)/);
    c.close();
  });
});

describe('the sandbox image', () => {
  it('is an OCI layout tar holding only the static pause binary, named for containerd, reproducible', async () => {
    if (!existsSync(PAUSE_BINARY)) await run(['make', '-s', '-C', join(REPO_ROOT, 'harness/cri/pause')]);
    // Static: an ELF with no PT_INTERP program header (no dynamic loader, no libc needed in the image).
    const elf = readFileSync(PAUSE_BINARY);
    expect(elf.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    const phoff = Number(elf.readBigUInt64LE(0x20));
    const types = Array.from({ length: elf.readUInt16LE(0x38) }, (_, i) => elf.readUInt32LE(phoff + i * elf.readUInt16LE(0x36)));
    expect(types.length).toBeGreaterThan(0);
    expect(types).not.toContain(3);
    const dir = mkdtempSync(join(tmpdir(), 'cnilab-pause-test-'));
    try {
      const a = await buildPauseImage(join(dir, 'a.tar'));
      const b = await buildPauseImage(join(dir, 'b.tar'));
      expect(a.digest).toBe(b.digest);
      const list = (await run(['tar', '-tf', join(dir, 'a.tar')])).stdout.split('\n').filter(Boolean).sort();
      expect(list).toEqual(expect.arrayContaining(['oci-layout', 'index.json', `blobs/sha256/${a.digest.slice(7)}`]));
      await run(['tar', '-xf', join(dir, 'a.tar'), '-C', dir, 'index.json']);
      const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
      expect(index.manifests[0].annotations['io.containerd.image.name']).toBe(PAUSE_IMAGE);
      // The pause binary answers --version without a libc in sight.
      expect((await run([PAUSE_BINARY, '--version'])).stdout).toBe('cnilab pause 1.0\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
