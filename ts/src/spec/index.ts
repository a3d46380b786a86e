/** The spec layer in one import: schemas, derived types, parsers, and default spec generation. */
export * from './version.js';
export * from './runtime-spec.js';
export * from './state.js';
export * from './features.js';
export * from './image-spec.js';
export * from './generate.js';
export { SpecError, parseDocument, checkDocument, formatJsonPath, type SpecProblem } from './parse.js';
export { int32, int64, integer, uint16, uint32, uint64 } from './primitives.js';
export * from './from-image.js';
