import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SpecError, formatJsonPath, parseDocument } from '../../ts/src/spec/index.js';

describe('formatJsonPath', () => {
  it('writes paths as JavaScript would index them', () => {
    expect(formatJsonPath([])).toBe('(root)');
    expect(formatJsonPath(['process', 'args', 0])).toBe('process.args[0]');
    expect(formatJsonPath(['annotations', 'org.example.key'])).toBe('annotations["org.example.key"]');
    expect(formatJsonPath(['config', 'os.version'])).toBe('config["os.version"]');
    expect(formatJsonPath(['ExposedPorts', '80/tcp'])).toBe('ExposedPorts["80/tcp"]');
  });
});

describe('parseDocument', () => {
  it('returns the validated value', () => {
    expect(parseDocument(z.looseObject({ a: z.string() }), { a: 'x', b: 1 }, 'thing')).toEqual({ a: 'x', b: 1 });
  });

  it('reports the closest branch of a union by its paths', () => {
    const schema = z.union([z.object({ kind: z.literal('a'), n: z.number() }), z.object({ kind: z.literal('b'), s: z.string() })]);
    expect(() => parseDocument(schema, { kind: 'b', s: 5 }, 'thing')).toThrow('invalid thing: s: expected string, got number 5');
  });

  it('keeps every problem in `problems` but caps the message', () => {
    const schema = z.array(z.string());
    let error: SpecError | undefined;
    try {
      parseDocument(schema, Array.from({ length: 30 }, (_, i) => i), 'list');
    } catch (e) {
      error = e as SpecError;
    }
    expect(error?.problems).toHaveLength(30);
    expect(error?.message).toContain('[19]: expected string, got number 19; … and 10 more');
    expect(error?.message).not.toContain('[20]');
  });
});
