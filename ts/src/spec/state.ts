/** The runtime-spec state document (what `state <id>` prints), with runc's extra fields. */
import { z } from 'zod';
import { parseDocument } from './parse.js';
import { annotations, integer } from './primitives.js';

/** The spec's lifecycle states plus `paused`, which runc and husk report for a frozen cgroup. */
export const ContainerStatusSchema = z.enum(['creating', 'created', 'running', 'stopped', 'paused']);

export const StateSchema = z.looseObject({
  ociVersion: z.string(),
  id: z.string(),
  status: ContainerStatusSchema,
  /** Required by the spec when created or running; runc prints 0 once stopped. */
  pid: integer.refine((pid) => pid >= 0, 'expected a pid >= 0').optional(),
  bundle: z.string(),
  annotations: annotations.optional(),
  /** runc: absolute path of the container's root filesystem. */
  rootfs: z.string().optional(),
  /** runc: RFC 3339 creation time. */
  created: z.string().optional(),
  /** runc: the owner's user name, "" when it is root. */
  owner: z.string().optional(),
});

export type ContainerStatus = z.infer<typeof ContainerStatusSchema>;
export type State = z.infer<typeof StateSchema>;

/** Validates a state document; throws SpecError (code EINVAL_SPEC) naming each bad path. */
export function parseState(json: unknown): State {
  return parseDocument(StateSchema, json, 'container state');
}
