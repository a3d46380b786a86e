import { afterAll, describe, expect, it } from 'vitest';
import {
  OCI_RUNTIME_SPEC_VERSION,
  defaultSpec,
  parseRuntimeSpec,
  serializeSpec,
} from '../../ts/src/spec/index.js';
import { removeTempDirs, runcSpecText } from './helpers.js';

afterAll(removeTempDirs);

/** runc 1.1 writes ociVersion 1.0.2-dev; everything else must match field for field. */
function withOurVersion(runcText: string): unknown {
  return { ...(JSON.parse(runcText) as object), ociVersion: OCI_RUNTIME_SPEC_VERSION };
}

describe('defaultSpec', () => {
  it('equals `runc spec`', () => {
    expect(defaultSpec()).toEqual(withOurVersion(runcSpecText()));
  });

  it('equals `runc spec --rootless` (mappings for the current user)', () => {
    expect(defaultSpec({ rootless: true })).toEqual(withOurVersion(runcSpecText(['--rootless'])));
  });

  it('serialises byte for byte as runc writes config.json, ociVersion aside', () => {
    for (const [options, args] of [[{}, []], [{ rootless: true }, ['--rootless']]] as const) {
      const runc = runcSpecText([...args]);
      const runcVersion = (JSON.parse(runc) as { ociVersion: string }).ociVersion;
      const ours = serializeSpec(defaultSpec(options)).replace(
        `"ociVersion": "${OCI_RUNTIME_SPEC_VERSION}"`,
        `"ociVersion": "${runcVersion}"`,
      );
      expect(ours).toBe(runc);
    }
  });

  it('rootless drops the network namespace and cgroup resources and adds a user namespace', () => {
    const spec = defaultSpec({ rootless: true });
    const types = spec.linux?.namespaces?.map((ns) => ns.type);
    expect(types).toEqual(['pid', 'ipc', 'uts', 'mount', 'user']);
    expect(spec.linux?.resources).toBeUndefined();
    expect(spec.linux?.uidMappings).toEqual([{ containerID: 0, hostID: process.geteuid?.(), size: 1 }]);
    const devpts = spec.mounts?.find((m) => m.destination === '/dev/pts');
    expect(devpts?.options).not.toContain('gid=5');
  });

  it('takes the process args and terminal', () => {
    const spec = defaultSpec({ args: ['/bin/echo', 'hi'], terminal: false });
    expect(spec.process?.args).toEqual(['/bin/echo', 'hi']);
    expect(spec.process?.terminal).toBe(false);
  });

  it('returns a fresh document each call', () => {
    const first = defaultSpec();
    first.process?.args?.push('changed');
    first.mounts?.[1]?.options?.push('changed');
    expect(defaultSpec()).toEqual(withOurVersion(runcSpecText()));
  });

  it('generates documents the schema accepts', () => {
    expect(() => parseRuntimeSpec(defaultSpec())).not.toThrow();
    expect(() => parseRuntimeSpec(defaultSpec({ rootless: true }))).not.toThrow();
  });
});
