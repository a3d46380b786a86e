/** Loads the runtime's addon module on first use, so commands that don't need it run without it. */
import { ErrorCode, HuskError } from '../errors.js';

export type RuntimeAddon = typeof import('../runtime/addon.js');

let loading: Promise<RuntimeAddon> | undefined;

/** The runtime addon module, or a HuskError (code EADDON_LOAD) saying why it cannot be loaded. */
export function loadRuntimeAddon(): Promise<RuntimeAddon> {
  loading ??= import('../runtime/addon.js').catch((error: unknown) => {
    loading = undefined;
    const reason = error instanceof Error ? error.message : String(error);
    throw new HuskError(ErrorCode.AddonUnavailable, `the native runtime addon could not be loaded: ${reason}`, {
      cause: error,
    });
  });
  return loading;
}
