// The sandbox image, built here from the static pause binary (bin/cri/pause, see pause/pause.c): an
// OCI image layout (oci-layout, index.json, blobs/sha256/{layer, config, manifest}) packed as a tar,
// which `ctr images import` takes. No registry is involved: the image never leaves this machine.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../exec/run.js';
import { REPO_ROOT } from '../paths.js';
import { UnsupportedError } from '../errors.js';

/** The name the CRI plugin is told to use as its sandbox image. */
export const PAUSE_IMAGE = 'localhost/cnilab/pause:1.0';
export const PAUSE_BINARY = resolve(REPO_ROOT, 'bin/cri/pause');

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/**
 * Write the image tar to `out` (atomically) and return its manifest digest. Deterministic: the same
 * binary gives the same digests (fixed mtimes and owners in the layer).
 */
export async function buildPauseImage(out: string): Promise<{ digest: string; size: number }> {
  if (!existsSync(PAUSE_BINARY)) {
    throw new UnsupportedError('the CRI sandbox image', `${PAUSE_BINARY}, built by scripts/bootstrap.sh with musl-gcc from harness/cri/pause/`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'cnilab-pause-image-'));
  try {
    const rootfs = join(dir, 'rootfs');
    mkdirSync(rootfs);
    copyFileSync(PAUSE_BINARY, join(rootfs, 'pause'));
    const layerPath = join(dir, 'layer.tar');
    await run(['tar', '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--mode=0755', '-C', rootfs, '-cf', layerPath, 'pause']);
    const layer = readFileSync(layerPath);
    const layerDigest = sha256(layer);
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Entrypoint: ['/pause'], WorkingDir: '/', User: '65535:65535' },
        rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
        history: [{ created_by: 'cnilab harness/cri/image.ts', created: '1970-01-01T00:00:00Z' }],
        created: '1970-01-01T00:00:00Z',
      }),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha256(config)}`, size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layerDigest}`, size: layer.length }],
      }),
    );
    const manifestDigest = sha256(manifest);
    const layout = join(dir, 'layout');
    mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
    for (const blob of [layer, config, manifest]) writeFileSync(join(layout, 'blobs/sha256', sha256(blob)), blob);
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: `sha256:${manifestDigest}`,
            size: manifest.length,
            // containerd names the imported image after this annotation.
            annotations: { 'io.containerd.image.name': PAUSE_IMAGE, 'org.opencontainers.image.ref.name': '1.0' },
            platform: { architecture: 'amd64', os: 'linux' },
          },
        ],
      }),
    );
    const tmpOut = `${out}.tmp`;
    await run(['tar', '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', layout, '-cf', tmpOut, 'oci-layout', 'index.json', 'blobs']);
    renameSync(tmpOut, out);
    return { digest: `sha256:${manifestDigest}`, size: manifest.length };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
