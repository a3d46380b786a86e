/** `husk info`: the runtime-spec features document of the native core (what this build implements). */
import type { CommandModule } from 'yargs';
import type { Features } from '../../spec/features.js';
import { printJson, printText, type GlobalOptions } from '../base.js';
import { loadRuntimeAddon } from '../native.js';

interface InfoOptions extends GlobalOptions {
  json: boolean;
}

export const infoCommand: CommandModule<GlobalOptions, InfoOptions> = {
  command: 'info',
  describe: 'Show the features of the container runtime (OCI features document)',
  builder: (argv) =>
    argv.option('json', {
      type: 'boolean',
      default: true,
      describe: 'Print the features document as JSON (--no-json for a summary)',
    }),
  handler: async (args) => {
    const addon = await loadRuntimeAddon();
    // Loaded here, not at the top: zod costs every other command's startup time.
    const { parseFeatures } = await import('../../spec/features.js');
    // Validated so a drift between the Rust document and the TS schema shows up here, not downstream.
    const features = parseFeatures(await addon.features());
    if (args.json) printJson(features);
    else printText(summarizeFeatures(features));
  },
};

/** A few human-readable lines; the JSON form is the complete answer. */
export function summarizeFeatures(features: Features): string {
  const linux = features.linux ?? {};
  const list = (items: readonly string[] | undefined) => (items && items.length > 0 ? items.join(', ') : '(none)');
  const enabled = (flag: { enabled?: boolean } | undefined) => (flag?.enabled ? 'yes' : 'no');
  const cgroup = linux.cgroup ?? {};
  return [
    `OCI runtime spec: ${features.ociVersionMin} to ${features.ociVersionMax}`,
    `hooks: ${list(features.hooks)}`,
    `mount options: ${features.mountOptions?.length ?? 0}`,
    `namespaces: ${list(linux.namespaces)}`,
    `capabilities: ${linux.capabilities?.length ?? 0}`,
    `cgroup: v1 ${cgroup.v1 ? 'yes' : 'no'}, v2 ${cgroup.v2 ? 'yes' : 'no'}, systemd ${cgroup.systemd ? 'yes' : 'no'}`,
    `seccomp: ${enabled(linux.seccomp)}`,
    `apparmor: ${enabled(linux.apparmor)}`,
    `selinux: ${enabled(linux.selinux)}`,
    `idmapped mounts: ${enabled(linux.mountExtensions?.idmap)}`,
  ].join('\n');
}
