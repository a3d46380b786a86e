// vitest globalSetup for tests/runtime: builds the validator once per run and checks that the
// runtime under test exists, so a missing binary fails once, clearly, instead of in every test.
import { spawnSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { buildValidator } from './build-validator.js';
import { runtimeUnderTest } from './paths.js';

export default function setup(project: TestProject): void {
  const runtime = runtimeUnderTest();
  const probe = spawnSync(runtime, ['--version'], { encoding: 'utf8' });
  if (probe.error) {
    throw new Error(`runtime under test ${runtime} cannot run (${probe.error.message}); build it or set HUSK_TEST_RUNTIME`);
  }
  project.provide('huskValidate', buildValidator());
}
