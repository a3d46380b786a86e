/** `husk version`: the CLI's version, the native core's, and the runtime-spec version implemented. */
import type { CommandModule } from 'yargs';
import { OCI_RUNTIME_SPEC_VERSION } from '../../spec/version.js';
import { cliVersion, printJson, printText, type GlobalOptions } from '../base.js';
import { loadRuntimeAddon } from '../native.js';

interface VersionOptions extends GlobalOptions {
  json: boolean;
}

/** The core's version, or why it is unknown: `husk version` must work even without the addon. */
async function coreVersion(): Promise<{ version: string } | { error: string }> {
  try {
    const addon = await loadRuntimeAddon();
    return { version: addon.version() };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

export const versionCommand: CommandModule<GlobalOptions, VersionOptions> = {
  command: 'version',
  describe: 'Show the husk CLI, native core and OCI runtime-spec versions',
  builder: (argv) =>
    argv.option('json', { type: 'boolean', default: false, describe: 'Print the versions as JSON' }),
  handler: async (args) => {
    const core = await coreVersion();
    if (args.json) {
      printJson({
        version: cliVersion(),
        core: 'version' in core ? core.version : null,
        ...('error' in core ? { coreError: core.error } : {}),
        spec: OCI_RUNTIME_SPEC_VERSION,
        node: process.version,
      });
      return;
    }
    printText(
      [
        `husk version ${cliVersion()}`,
        `core: ${'version' in core ? core.version : `unavailable (${core.error})`}`,
        `spec: ${OCI_RUNTIME_SPEC_VERSION}`,
        `node: ${process.version}`,
      ].join('\n'),
    );
  },
};
