/** Building blocks the OCI schemas share: sized integers, string maps, annotations. */
import { z } from 'zod';

/**
 * An integer within [min, max]. Not z.int(): that stops at 2^53, and OCI documents carry uint64
 * values such as RLIM_INFINITY (18446744073709551615), which JSON.parse rounds to 2^64.
 */
function sizedInteger(name: string, min: number, max: number, range: string) {
  return z.number().superRefine((value, ctx) => {
    if (!Number.isInteger(value) || value < min || value > max) {
      ctx.addIssue({ code: 'custom', message: `expected ${name} (${range}), got ${value}` });
    }
  });
}

export const int32 = sizedInteger('int32', -(2 ** 31), 2 ** 31 - 1, '-2147483648 to 2147483647');
export const int64 = sizedInteger('int64', -(2 ** 63), 2 ** 63, 'a 64-bit signed integer');
export const uint16 = sizedInteger('uint16', 0, 2 ** 16 - 1, '0 to 65535');
export const uint32 = sizedInteger('uint32', 0, 2 ** 32 - 1, '0 to 4294967295');
export const uint64 = sizedInteger('uint64', 0, 2 ** 64, '0 to 18446744073709551615');
/** A JSON integer of any size (int in Go's encoding): sizes, pids, timeouts. */
export const integer = sizedInteger('integer', -(2 ** 63), 2 ** 64, 'a whole number');

export const stringArray = z.array(z.string());
export const stringMap = z.record(z.string(), z.string());

/** Annotations: a string map; the runtime spec's schema also allows null. */
export const annotations = stringMap.nullable();
