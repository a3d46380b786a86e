// A one-layer OCI image archive built by hand from busybox-static (tar for the layer, node's zlib
// and sha256 for the blobs), in the layout `ctr images import` takes — no registry, no network.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const BUSYBOX_IMAGE = 'docker.io/library/husk-busybox:test';

const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A root filesystem like scripts/make-bundle.sh makes: busybox, its applet links, /etc basics. */
export function makeBusyboxRootfs(rootfs: string): void {
  if (!BUSYBOX) throw new Error('no busybox: apt-get install busybox-static');
  const list = spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' });
  if (list.status !== 0) throw new Error(`${BUSYBOX} --list failed: ${list.stderr}`);
  for (const dir of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'run', 'root', 'var/tmp']) {
    mkdirSync(join(rootfs, dir), { recursive: true });
  }
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  chmodSync(join(rootfs, 'var/tmp'), 0o1777);
  copyFileSync(BUSYBOX, join(rootfs, 'bin/busybox'));
  chmodSync(join(rootfs, 'bin/busybox'), 0o755);
  for (const applet of list.stdout.split('\n').filter((a) => a && a !== 'busybox')) {
    symlinkSync('busybox', join(rootfs, 'bin', applet));
  }
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(rootfs, 'etc/hosts'), '127.0.0.1 localhost\n::1 localhost\n');
  writeFileSync(join(rootfs, 'etc/resolv.conf'), '');
}

/** Builds DIR/busybox.tar (an OCI image layout in a tar) named `name`; returns its path. */
export function buildBusyboxImage(dir: string, name = BUSYBOX_IMAGE): string {
  const rootfs = join(dir, 'rootfs');
  const layout = join(dir, 'layout');
  const blobs = join(layout, 'blobs/sha256');
  mkdirSync(blobs, { recursive: true });
  makeBusyboxRootfs(rootfs);

  // Reproducible layer: sorted names, mtime 0, root-owned.
  const tar = spawnSync(
    'tar',
    ['-C', rootfs, '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--format=posix',
      '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime', '-cf', '-', '.'],
    { maxBuffer: 256 * 1024 * 1024 },
  );
  if (tar.status !== 0) throw new Error(`tar of ${rootfs} failed: ${tar.stderr.toString()}`);
  const layerTar = tar.stdout;

  const putBlob = (data: Buffer | string): { digest: string; size: number } => {
    const hex = sha256(data);
    writeFileSync(join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: Buffer.byteLength(data) };
  };
  const layer = putBlob(gzipSync(layerTar, { level: 6 }));
  const config = putBlob(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '1970-01-01T00:00:00Z',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'], WorkingDir: '/' },
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(layerTar)}`] },
      history: [{ created: '1970-01-01T00:00:00Z', created_by: 'tests/containerd/busybox-image.ts' }],
    }),
  );
  const manifest = putBlob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
    }),
  );
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          platform: { architecture: 'amd64', os: 'linux' },
          // ctr images import registers the image under this name.
          annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.slice(name.lastIndexOf(':') + 1) },
        },
      ],
    }),
  );
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');

  const archive = join(dir, 'busybox.tar');
  const pack = spawnSync('tar', ['-C', layout, '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-cf', archive, 'oci-layout', 'index.json', 'blobs']);
  if (pack.status !== 0) throw new Error(`tar of ${layout} failed: ${pack.stderr.toString()}`);
  return archive;
}
