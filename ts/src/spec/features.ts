/** The runtime-spec features document (features.md): what a runtime build implements. */
import { z } from 'zod';
import { parseDocument } from './parse.js';
import {
  CapabilitySchema,
  NamespaceTypeSchema,
  SeccompActionSchema,
  SeccompArchSchema,
  SeccompFlagSchema,
  SeccompOperatorSchema,
} from './runtime-spec.js';
import { annotations, stringArray } from './primitives.js';

const enabledFlag = z.looseObject({ enabled: z.boolean().optional() });

export const LinuxFeaturesSchema = z.looseObject({
  namespaces: z.array(NamespaceTypeSchema).optional(),
  capabilities: z.array(CapabilitySchema).optional(),
  cgroup: z
    .looseObject({
      v1: z.boolean().optional(),
      v2: z.boolean().optional(),
      systemd: z.boolean().optional(),
      systemdUser: z.boolean().optional(),
      rdma: z.boolean().optional(),
    })
    .optional(),
  seccomp: z
    .looseObject({
      enabled: z.boolean().optional(),
      actions: z.array(SeccompActionSchema).optional(),
      operators: z.array(SeccompOperatorSchema).optional(),
      archs: z.array(SeccompArchSchema).optional(),
      knownFlags: z.array(SeccompFlagSchema).optional(),
      supportedFlags: z.array(SeccompFlagSchema).optional(),
    })
    .optional(),
  apparmor: enabledFlag.optional(),
  selinux: enabledFlag.optional(),
  intelRdt: z.looseObject({ enabled: z.boolean().optional(), schemata: z.boolean().optional() }).optional(),
  mountExtensions: z.looseObject({ idmap: enabledFlag.optional() }).optional(),
  netDevices: enabledFlag.optional(),
});

export const FeaturesSchema = z.looseObject({
  ociVersionMin: z.string(),
  ociVersionMax: z.string(),
  hooks: stringArray.optional(),
  mountOptions: stringArray.optional(),
  annotations: annotations.optional(),
  /** Annotation names (or prefixes ending in ".") whose effect may be unsafe to let untrusted users set. */
  potentiallyUnsafeConfigAnnotations: stringArray.optional(),
  linux: LinuxFeaturesSchema.optional(),
});

export type Features = z.infer<typeof FeaturesSchema>;
export type LinuxFeatures = z.infer<typeof LinuxFeaturesSchema>;

/** Validates a features document; throws SpecError (code EINVAL_SPEC) naming each bad path. */
export function parseFeatures(json: unknown): Features {
  return parseDocument(FeaturesSchema, json, 'features document');
}
