// Builds husk-validate and husk-console-recv as static binaries, then copies them out of the
// cargo release dir so a workspace `cargo build` relinking them mid-run cannot swap them.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, openSync, readSync, closeSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cargoTargetDir, repoRoot, validatorPaths, type ValidatorPaths } from './paths.js';

const BINARIES = ['husk-validate', 'husk-console-recv'] as const;

export function buildValidator(): ValidatorPaths {
  for (const bin of BINARIES) {
    // crt-static is passed to the final link only, so dependencies keep their shared build.
    const args = ['rustc', '-p', 'husk-validate', '--release', '--bin', bin, '--', '-C', 'target-feature=+crt-static'];
    const result = spawnSync('cargo', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (result.status !== 0) {
      throw new Error(`cargo ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stderr}`);
    }
  }
  const paths = validatorPaths();
  mkdirSync(dirname(paths.validate), { recursive: true });
  const built = { validate: join(cargoTargetDir(), 'release/husk-validate'), consoleRecv: join(cargoTargetDir(), 'release/husk-console-recv') };
  for (const key of ['validate', 'consoleRecv'] as const) {
    if (hasInterpreter(built[key])) throw new Error(`${built[key]} is dynamically linked; the validator must be static`);
    const tmp = `${paths[key]}.tmp-${process.pid}`;
    copyFileSync(built[key], tmp);
    chmodSync(tmp, 0o755);
    renameSync(tmp, paths[key]);
  }
  return paths;
}

/** Whether an ELF64 file asks for a dynamic loader (has a PT_INTERP program header). */
export function hasInterpreter(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const header = Buffer.alloc(64);
    readSync(fd, header, 0, 64, 0);
    const phoff = Number(header.readBigUInt64LE(32));
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    readSync(fd, table, 0, table.length, phoff);
    const PT_INTERP = 3;
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === PT_INTERP) return true;
    return false;
  } finally {
    closeSync(fd);
  }
}
