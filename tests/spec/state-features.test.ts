import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FeaturesSchema, StateSchema, checkDocument, parseFeatures, parseState } from '../../ts/src/spec/index.js';
import { hasCommand } from './helpers.js';

function problemsOf(schema: Parameters<typeof checkDocument>[0], document: unknown): string[] {
  const result = checkDocument(schema, document);
  return result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
}

describe('StateSchema', () => {
  // What `runc state` printed for a created container (runc 1.1.5).
  const runcState = {
    ociVersion: '1.0.2-dev',
    id: 't1',
    pid: 8451,
    status: 'created',
    bundle: '/tmp/st',
    rootfs: '/tmp/st/rootfs',
    created: '2026-11-27T19:01:39.74423185Z',
    owner: '',
  };

  it("accepts runc's state output, extra fields included", () => {
    expect(parseState(runcState)).toEqual(runcState);
  });

  it('accepts every lifecycle status, paused included', () => {
    for (const status of ['creating', 'created', 'running', 'stopped', 'paused']) {
      expect(problemsOf(StateSchema, { ...runcState, status })).toEqual([]);
    }
  });

  it('accepts annotations and a stopped container without pid', () => {
    const { pid: _pid, ...withoutPid } = runcState;
    expect(problemsOf(StateSchema, { ...withoutPid, status: 'stopped', annotations: { a: 'b' } })).toEqual([]);
  });

  it('names the paths of bad or missing fields', () => {
    expect(problemsOf(StateSchema, { ...runcState, status: 'zombie', pid: -1, bundle: undefined })).toEqual([
      'status: invalid value "zombie" (expected one of: "creating", "created", "running", "stopped", "paused")',
      'pid: expected a pid >= 0',
      'bundle: required, expected string',
    ]);
    expect(() => parseState({})).toThrow(/^invalid container state: ociVersion: required/);
  });
});

describe('FeaturesSchema', () => {
  it.skipIf(!hasCommand('runc'))('accepts what `runc features` prints', () => {
    const runcFeatures = JSON.parse(execFileSync('runc', ['features'], { encoding: 'utf8' }));
    expect(parseFeatures(runcFeatures)).toEqual(runcFeatures);
  });

  it("accepts a document shaped like husk-core's", () => {
    const husk = {
      ociVersionMin: '1.0.0',
      ociVersionMax: '1.2.0',
      hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
      mountOptions: ['bind', 'rbind', 'ro'],
      potentiallyUnsafeConfigAnnotations: ['com.example.unsafe.'],
      linux: {
        namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts'],
        capabilities: [],
        cgroup: { v1: false, v2: true, systemd: false, systemdUser: false, rdma: false },
        seccomp: { enabled: true, actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_NOTIFY'], operators: ['SCMP_CMP_EQ'], archs: ['SCMP_ARCH_X86_64'], knownFlags: ['SECCOMP_FILTER_FLAG_LOG'], supportedFlags: [] },
        apparmor: { enabled: false },
        selinux: { enabled: false },
        intelRdt: { enabled: false },
        mountExtensions: { idmap: { enabled: true } },
      },
      annotations: { 'io.github.husk.version': '0.1.0' },
    };
    expect(parseFeatures(husk)).toEqual(husk);
  });

  it('requires the version range and checks the enums', () => {
    expect(problemsOf(FeaturesSchema, { ociVersionMin: '1.0.0', linux: { namespaces: ['pid', 'net'] } })).toEqual([
      'ociVersionMax: required, expected string',
      'linux.namespaces[1]: invalid value "net" (expected one of: "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")',
    ]);
  });
});
