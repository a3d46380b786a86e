// process.capabilities: all five sets as the validator reads them from /proc/self/status, across
// the switch to a non-root uid, `exec --cap`, and unknown names refused before anything exists.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { useRuntimeEnv } from '../helpers/env.js';
import { describeResult } from '../helpers/runtime.js';
import { expectCheck, expectCreateRefused, expectValidatorPass, ok } from './lib.js';

describe('capabilities', { timeout: 60_000 }, () => {
  const env = useRuntimeEnv();

  test('all five sets survive the switch to uid 1000, ambient ones become effective', async () => {
    // A runtime that calls setuid without PR_SET_KEEPCAPS (or raises ambient caps before the
    // uid switch) loses them: uid 1000 then runs with empty permitted/effective/ambient sets,
    // and the validator's CapAmb/CapPrm/CapEff checks fail. One that forgets the bounding set
    // leaves the host's full CapBnd.
    const id = env.newId();
    const bundle = env.bundle({ id });
    bundle.config.process.user = { uid: 1000, gid: 1000 };
    bundle.config.process.capabilities = {
      bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SETUID'],
      effective: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      permitted: ['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW'],
      inheritable: ['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_CHOWN'],
      ambient: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'],
    };
    bundle.write();
    const lines = expectValidatorPass(await env.runtime(['run', '--bundle', bundle.dir, id]));
    for (const field of ['CapBnd', 'CapInh', 'CapAmb', 'CapPrm', 'CapEff']) expectCheck(lines, new RegExp(`process\\.capabilities .*\\(${field}\\)`));
    expectCheck(lines, /process\.user\.uid/);
  });

  test('root with five different sets and no no_new_privs', async () => {
    const id = env.newId();
    const bundle = env.bundle({ id });
    bundle.config.process.noNewPrivileges = false;
    bundle.config.process.capabilities = {
      bounding: ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT'],
      effective: ['CAP_CHOWN', 'CAP_KILL'],
      permitted: ['CAP_CHOWN', 'CAP_KILL', 'CAP_FOWNER'],
      inheritable: ['CAP_KILL', 'CAP_SYS_CHROOT'],
      ambient: ['CAP_KILL'],
    };
    bundle.write();
    const lines = expectValidatorPass(await env.runtime(['run', '--bundle', bundle.dir, id]));
    for (const field of ['CapBnd', 'CapInh', 'CapAmb', 'CapPrm', 'CapEff']) expectCheck(lines, new RegExp(`\\(${field}\\)`));
  });

  test('exec --cap adds a capability to the exec process only', async () => {
    const id = env.newId();
    const bundle = env.bundle({ id, args: ['/bin/sleep', '1000'] });
    ok(await env.runtime(['run', '--detach', '--bundle', bundle.dir, id]));
    const status = (out: string, field: string) => BigInt(`0x${new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(out)?.[1] ?? '0'}`);
    const NET_RAW = 1n << 13n;
    const plain = ok(await env.runtime(['exec', id, '/bin/cat', '/proc/self/status'])).stdout;
    expect(status(plain, 'CapBnd') & NET_RAW, 'no CAP_NET_RAW without --cap').toBe(0n);
    const withCap = ok(await env.runtime(['exec', '--cap', 'CAP_NET_RAW', id, '/bin/cat', '/proc/self/status']));
    for (const field of ['CapBnd', 'CapPrm', 'CapEff']) {
      expect(status(withCap.stdout, field) & NET_RAW, `${field} has CAP_NET_RAW\n${describeResult(withCap)}`).toBe(NET_RAW);
    }
    const { pid } = await env.state(id);
    const init = readFileSync(`/proc/${pid}/status`, 'utf8');
    expect(status(init, 'CapBnd') & NET_RAW, 'the init process did not gain it').toBe(0n);
  });

  test.for(['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const)(
    'an unknown capability in %s fails create naming the field, leaving nothing behind',
    async (set) => {
      // A runtime that skips names it does not know would start the container with fewer (or,
      // for a typo in a drop list, more) privileges than the config asked for, silently.
      const id = env.newId();
      const bundle = env.bundle({ id, args: ['/bin/true'] });
      const caps = bundle.config.process.capabilities ?? {};
      caps[set] = [...(caps[set] ?? []), 'CAP_BOGUS_42'];
      bundle.config.process.capabilities = caps;
      bundle.write();
      const message = await expectCreateRefused(env, id, bundle, new RegExp(`process\\.capabilities\\.${set}`));
      expect(message).toMatch(/CAP_BOGUS_42/);
    },
  );
});
