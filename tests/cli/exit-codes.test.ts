import { describe, expect, it } from 'vitest';
import { ErrorCode, ExitCode, HuskError, exitCodeFor, isHuskError } from '../../ts/src/errors.js';
import { SpecError } from '../../ts/src/spec/index.js';

describe('exitCodeFor (docker convention)', () => {
  it('maps command-not-found to 127 and cannot-invoke to 126', () => {
    expect(exitCodeFor(new HuskError(ErrorCode.CommandNotFound, 'exec: "nope": not found'))).toBe(127);
    expect(exitCodeFor(new HuskError(ErrorCode.CommandNotInvokable, 'exec: "/etc": permission denied'))).toBe(126);
  });

  it('maps everything else to 125', () => {
    expect(exitCodeFor(new HuskError(ErrorCode.Usage, 'bad flag'))).toBe(ExitCode.CliFailed);
    expect(exitCodeFor(new SpecError('runtime spec', [{ path: 'ociVersion', message: 'required' }]))).toBe(125);
    expect(exitCodeFor(Object.assign(new Error('from the addon'), { code: 'ENOTFOUND_CONTAINER' }))).toBe(125);
    expect(exitCodeFor(new TypeError('a bug'))).toBe(125);
    expect(exitCodeFor('a string')).toBe(125);
  });

  it('reads the code of errors that only carry one (the addon throws plain Errors with a code)', () => {
    expect(exitCodeFor(Object.assign(new Error('no such command'), { code: ErrorCode.CommandNotFound }))).toBe(127);
  });
});

describe('HuskError', () => {
  it('is an Error with a stable code and an optional cause', () => {
    const cause = new Error('EEXIST');
    const error = new HuskError(ErrorCode.Exists, 'config.json already exists', { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('HuskError');
    expect(error.code).toBe('EEXIST');
    expect(error.cause).toBe(cause);
    expect(isHuskError(error)).toBe(true);
    expect(isHuskError(error, ErrorCode.Exists)).toBe(true);
    expect(isHuskError(error, ErrorCode.Usage)).toBe(false);
    expect(isHuskError(new Error('x'))).toBe(false);
  });
});
