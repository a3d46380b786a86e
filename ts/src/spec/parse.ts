/** Validating a JSON document against a schema, with one message per problem naming its JSON path. */
import type { z } from 'zod';
import { ErrorCode, HuskError } from '../errors.js';

/** One thing wrong with a document: where (`linux.namespaces[2].type`) and what. */
export interface SpecProblem {
  path: string;
  message: string;
}

/** Problems listed in the message before it is cut short; `problems` always has them all. */
const MAX_PROBLEMS_IN_MESSAGE = 20;

/** A document failed validation (code EINVAL_SPEC); the message names every problem's path. */
export class SpecError extends HuskError {
  /** What was being validated, e.g. "runtime spec" or "image manifest". */
  readonly document: string;
  readonly problems: readonly SpecProblem[];

  constructor(document: string, problems: readonly SpecProblem[]) {
    const shown = problems.slice(0, MAX_PROBLEMS_IN_MESSAGE).map((p) => `${p.path}: ${p.message}`);
    if (problems.length > shown.length) shown.push(`… and ${problems.length - shown.length} more`);
    super(ErrorCode.InvalidSpec, `invalid ${document}: ${shown.join('; ')}`);
    this.name = 'SpecError';
    this.document = document;
    this.problems = problems;
  }
}

/** Validates `json` against `schema`; returns the typed value (unknown fields kept) or throws SpecError. */
export function parseDocument<S extends z.ZodType>(schema: S, json: unknown, document: string): z.output<S> {
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  throw new SpecError(document, describeIssues(result.error.issues, json, []));
}

/** Like parseDocument, but returns the problems instead of throwing. */
export function checkDocument<S extends z.ZodType>(
  schema: S,
  json: unknown,
): { ok: true; value: z.output<S> } | { ok: false; problems: SpecProblem[] } {
  const result = schema.safeParse(json);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, problems: describeIssues(result.error.issues, json, []) };
}

/** Renders a path as JavaScript would index it: `a.b[2]["org.example.key"]`; the root is "(root)". */
export function formatJsonPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out === '' ? '(root)' : out;
}

type Issue = z.core.$ZodIssue;

function describeIssues(issues: readonly Issue[], root: unknown, prefix: readonly PropertyKey[]): SpecProblem[] {
  const problems: SpecProblem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // Report the branch that came closest (fewest problems): its messages are the useful ones.
      const closest = issue.errors.reduce((best, branch) => (branch.length < best.length ? branch : best));
      if (closest.length > 0) {
        problems.push(...describeIssues(closest, root, path));
        continue;
      }
    }
    problems.push({ path: formatJsonPath(path), message: describeIssue(issue, valueAt(root, path)) });
  }
  return problems;
}

function describeIssue(issue: Issue, found: Found): string {
  const shown = found.present ? describeValue(found.value) : 'nothing';
  switch (issue.code) {
    case 'invalid_type': {
      const expected = issue.expected === 'int' ? 'integer' : issue.expected;
      return found.present ? `expected ${expected}, got ${describeTypedValue(found.value)}` : `required, expected ${expected}`;
    }
    case 'invalid_value': {
      const expected =
        issue.values.length === 1 ? JSON.stringify(issue.values[0]) : `one of: ${listValues(issue.values)}`;
      if (!found.present) return `required, expected ${expected}`;
      return issue.values.length === 1 ? `invalid value ${shown}, expected ${expected}` : `invalid value ${shown} (expected ${expected})`;
    }
    case 'invalid_format':
      return issue.format === 'regex' && issue.pattern !== undefined
        ? `invalid value ${shown} (must match ${issue.pattern})`
        : `invalid ${issue.format}: ${shown}`;
    case 'too_small':
      return `expected ${sizeNoun(issue.origin)} ${issue.inclusive === false ? '>' : '>='} ${issue.minimum}`;
    case 'too_big':
      return `expected ${sizeNoun(issue.origin)} ${issue.inclusive === false ? '<' : '<='} ${issue.maximum}`;
    case 'not_multiple_of':
      return `expected a multiple of ${issue.divisor}`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length === 1 ? '' : 's'} ${issue.keys.join(', ')}`;
    case 'invalid_key':
      return `invalid key: ${issue.issues.map((i) => i.message).join('; ')}`;
    case 'invalid_union':
      return 'does not match any allowed form';
    default:
      return issue.message;
  }
}

function sizeNoun(origin: string): string {
  if (origin === 'array' || origin === 'set') return 'number of items';
  if (origin === 'string') return 'length';
  return 'value';
}

function listValues(values: readonly unknown[]): string {
  const shown = values.slice(0, 24).map((v) => JSON.stringify(v));
  return values.length > shown.length ? `${shown.join(', ')}, …` : shown.join(', ');
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
    case 'number':
    case 'boolean':
      return String(value);
    case 'object':
      return 'object';
    default:
      return typeof value;
  }
}

/** The value with its JSON type, for type mismatches: `string "sh"`, `number 5`, `array`. */
function describeTypedValue(value: unknown): string {
  const described = describeValue(value);
  const type = typeof value;
  return type === 'string' || type === 'number' || type === 'boolean' ? `${type} ${described}` : described;
}

type Found = { present: true; value: unknown } | { present: false };

/** The value at `path` inside the original document, to quote it back in messages. */
function valueAt(root: unknown, path: readonly PropertyKey[]): Found {
  let current: unknown = root;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return { present: false };
    if (!Object.prototype.hasOwnProperty.call(current, key)) return { present: false };
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  // A key set to undefined is absent once serialised, so it reads as missing too.
  return current === undefined ? { present: false } : { present: true, value: current };
}
