// vitest globalSetup for tests/containerd: fails once, clearly, when something the suite drives is
// missing, and at the end removes the /husk-test parent cgroups ctr's default paths create.
import { spawnSync } from 'node:child_process';
import { rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupHierarchies } from '../helpers/leaks.js';
import { runtimeBinary } from './runtime-under-test.js';
import { NAMESPACE } from './private-containerd.js';

const TOOLS = [
  ['containerd', '--version'],
  ['ctr', '--version'],
  ['containerd-shim-runc-v2', '-v'],
  ['script', '--version'],
];

export default function setup(): () => void {
  if (process.getuid?.() !== 0) throw new Error('tests/containerd runs containerd and containers: run it as root');
  for (const [tool, ...args] of TOOLS) {
    const probe = spawnSync(tool!, args, { encoding: 'utf8' });
    if (probe.error) throw new Error(`${tool} cannot run (${probe.error.message}): apt-get install containerd util-linux`);
  }
  const runtime = runtimeBinary();
  const probe = spawnSync(runtime, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(`runtime under test ${runtime} cannot run (${probe.error?.message ?? probe.stderr}); build it or set HUSK_TEST_RUNTIME`);
  }
  return () => {
    for (const hierarchy of cgroupHierarchies()) {
      try {
        rmdirSync(join(hierarchy, NAMESPACE));
      } catch {
        // absent, or still holds a container: the suite's own checks report that
      }
    }
  };
}
