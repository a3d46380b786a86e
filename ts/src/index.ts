/** husk's programmatic API for Node users: OCI schemas and types, parsers, spec generation, errors, the runtime. */
export * from './spec/index.js';
export { ErrorCode, ExitCode, HuskError, errorCodeOf, exitCodeFor, isHuskError, type ErrorCodeName } from './errors.js';
/** The native core's version and its runtime-spec features document. */
export { version, features } from './runtime/addon.js';
export { Runtime, runtimeBinary, DEFAULT_STATE_ROOT } from './runtime/container.js';
export type { ContainerProcess, ContainerState, ExitStatus, RunResult, ProcessResult, RuntimeEvent, StdioSlot } from './runtime/container.js';
export * from './image/index.js';
