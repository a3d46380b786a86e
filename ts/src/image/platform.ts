/** Platforms (`os/arch[/variant]`): parsing, the host's, and picking a manifest from an index. */
import type { Descriptor, Platform } from '../spec/image-spec.js';
import { ImageError, ImageErrorCode } from './errors.js';

export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

const NODE_ARCH: Readonly<Record<string, string>> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
};

const ARCH_ALIASES: Readonly<Record<string, string>> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
  i386: '386',
};

/** The platform this process runs on, as OCI names it. */
export function hostPlatform(): PlatformSpec {
  const architecture = NODE_ARCH[process.arch] ?? process.arch;
  const platform: PlatformSpec = { os: process.platform, architecture };
  if (architecture === 'arm64') platform.variant = 'v8';
  if (architecture === 'arm') {
    const version = (process.config.variables as { arm_version?: string }).arm_version;
    platform.variant = `v${version ?? '7'}`;
  }
  return platform;
}

/** Parses `linux/arm64/v8`, `linux/amd64`, `arm64` (os defaults to linux). */
export function parsePlatform(input: string): PlatformSpec {
  const parts = input.toLowerCase().split('/');
  if (parts.some((p) => p === '') || parts.length > 3) {
    throw new ImageError(ImageErrorCode.InvalidPlatform, `invalid platform "${input}": expected os/arch[/variant]`);
  }
  const [first, second, third] = parts as [string, string?, string?];
  const platform: PlatformSpec =
    second === undefined ? { os: 'linux', architecture: first } : { os: first, architecture: second };
  if (third !== undefined) platform.variant = third;
  return normalizePlatform(platform);
}

/** Aliases to OCI names, and arm64's default variant v8 (as containerd does). */
export function normalizePlatform(platform: PlatformSpec): PlatformSpec {
  const architecture = ARCH_ALIASES[platform.architecture] ?? platform.architecture;
  const normalized: PlatformSpec = { os: platform.os, architecture };
  let variant = platform.variant;
  if (architecture === 'arm64' && (variant === undefined || variant === '8')) variant = 'v8';
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  if (variant !== undefined) normalized.variant = variant;
  return normalized;
}

export function formatPlatform(platform: PlatformSpec): string {
  return [platform.os, platform.architecture, platform.variant].filter((p) => p !== undefined).join('/');
}

/** Does a descriptor's platform run on `want`? Variants must match when both say one. */
export function platformMatches(have: Platform | PlatformSpec, want: PlatformSpec): boolean {
  const a = normalizePlatform(have);
  const b = normalizePlatform(want);
  if (a.os !== b.os || a.architecture !== b.architecture) return false;
  return a.variant === undefined || b.variant === undefined || a.variant === b.variant;
}

/** Attestation and other non-runnable entries BuildKit puts in indexes. */
export function isAttestation(descriptor: Descriptor): boolean {
  const type = descriptor.annotations?.['vnd.docker.reference.type'];
  const platform = descriptor.platform;
  return type === 'attestation-manifest' || (platform?.os === 'unknown' && platform.architecture === 'unknown');
}

/** The index entry for `want`: an exact variant match first, then one without a variant. */
export function selectManifest(manifests: readonly Descriptor[], want: PlatformSpec): Descriptor | undefined {
  const candidates = manifests.filter((m) => !isAttestation(m) && m.platform !== undefined && platformMatches(m.platform, want));
  const wantVariant = normalizePlatform(want).variant;
  return candidates.find((m) => normalizePlatform(m.platform!).variant === wantVariant) ?? candidates[0];
}
