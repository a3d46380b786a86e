/** Typed errors with a stable `code`, and the one mapping from codes to docker-style exit codes. */

/** Stable error codes raised by the TypeScript layer (the addon adds its own, see exitCodeFor). */
export const ErrorCode = {
  /** A document (config.json, manifest, state, features) failed schema validation. */
  InvalidSpec: 'EINVAL_SPEC',
  /** The command line could not be parsed: unknown command, unknown flag, bad value. */
  Usage: 'EUSAGE',
  /** A file the command would create already exists (e.g. config.json for `husk spec`). */
  Exists: 'EEXIST',
  /** A path the command needs (e.g. the bundle directory) does not exist. */
  NoSuchPath: 'ENOENT',
  /** The native addon could not be found or loaded (runtime/addon.ts throws the same code). */
  AddonUnavailable: 'EADDON_LOAD',
  /** The container's command was not found (docker exits 127). */
  CommandNotFound: 'ENOENT_COMMAND',
  /** The container's command exists but cannot be invoked (docker exits 126). */
  CommandNotInvokable: 'EACCES_COMMAND',
} as const;

export type ErrorCodeName = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Docker's exit-code convention for failures that are not the container's own exit status. */
export const ExitCode = {
  Ok: 0,
  /** The CLI (or what it drives) failed. */
  CliFailed: 125,
  /** The contained command cannot be invoked. */
  CannotInvoke: 126,
  /** The contained command cannot be found. */
  NotFound: 127,
} as const;

export interface HuskErrorOptions {
  cause?: unknown;
}

/** The base of every error husk throws on purpose; `code` is stable, `message` is for people. */
export class HuskError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: HuskErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HuskError';
    this.code = code;
  }
}

/** Codes that map to something other than 125; everything else the CLI reports is 125. */
const EXIT_CODE_BY_ERROR_CODE: Readonly<Record<string, number>> = {
  [ErrorCode.CommandNotFound]: ExitCode.NotFound,
  [ErrorCode.CommandNotInvokable]: ExitCode.CannotInvoke,
};

/** The process exit code for an error that escaped a CLI command. */
export function exitCodeFor(error: unknown): number {
  const code = errorCodeOf(error);
  return (code !== undefined && EXIT_CODE_BY_ERROR_CODE[code]) || ExitCode.CliFailed;
}

/** The `code` of a HuskError or of an addon/Node error that carries one, else undefined. */
export function errorCodeOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

export function isHuskError(error: unknown, code?: string): error is HuskError {
  return error instanceof HuskError && (code === undefined || error.code === code);
}
