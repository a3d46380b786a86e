/**
 * Image references as docker parses them: `[host[:port]/]path[:tag][@algo:hex]`, normalised so
 * `busybox` is `docker.io/library/busybox:latest`.
 */
import { ImageError, ImageErrorCode } from './errors.js';

export const DEFAULT_REGISTRY = 'docker.io';
export const DEFAULT_TAG = 'latest';
/** Where Docker Hub's API actually lives. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;
const MAX_NAME_LENGTH = 255;

/** A parsed, normalised reference. At least one of `tag` and `digest` is set. */
export interface ImageReference {
  /** The registry host as written (`docker.io` for Docker Hub), with port if any. */
  readonly registry: string;
  /** The repository path, e.g. `library/busybox`. */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

function invalid(input: string, why: string): ImageError {
  return new ImageError(ImageErrorCode.InvalidReference, `invalid reference "${input}": ${why}`);
}

/** Parses and normalises `input`; a reference without tag or digest gets `:latest`. */
export function parseReference(input: string): ImageReference {
  if (input.length === 0) throw invalid(input, 'it is empty');
  if (input !== input.trim()) throw invalid(input, 'it contains spaces');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(input, `"${digest}" is not a digest (algorithm:hex)`);
    if (digest.startsWith('sha256:') && !/^sha256:[a-f0-9]{64}$/.test(digest)) {
      throw invalid(input, 'a sha256 digest has 64 lowercase hex digits');
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(input, `"${tag}" is not a valid tag (letters, digits, _ . -, at most 128)`);
  }
  if (rest.length === 0) throw invalid(input, 'the repository name is empty');
  let registry = DEFAULT_REGISTRY;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    // Docker's rule: the first component is a host if it has a dot or a port, or is localhost.
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[')) {
      if (!DOMAIN.test(first)) throw invalid(input, `"${first}" is not a valid registry host`);
      registry = first;
      path = rest.slice(slash + 1);
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DEFAULT_REGISTRY;
  if (registry === DEFAULT_REGISTRY && !path.includes('/')) path = `library/${path}`;
  for (const component of path.split('/')) {
    if (component !== component.toLowerCase()) throw invalid(input, 'repository name must be lowercase');
    if (!PATH_COMPONENT.test(component)) {
      throw invalid(input, `"${component}" is not a valid path component (lowercase letters, digits, separators . _ __ -)`);
    }
  }
  if (registry.length + 1 + path.length > MAX_NAME_LENGTH) {
    throw invalid(input, `the name is longer than ${MAX_NAME_LENGTH} characters`);
  }
  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG;
  return { registry, repository: path, ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }) };
}

/** `host/repo[:tag][@digest]`, the normalised form that keys image records. */
export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** The shortest form docker would print: `busybox:latest`, `127.0.0.1:5000/x:1`. */
export function familiarReference(ref: ImageReference): string {
  return `${familiarName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** The repository as docker prints it: `busybox`, `someone/app`, `host:5000/app`. */
export function familiarName(ref: Pick<ImageReference, 'registry' | 'repository'>): string {
  if (ref.registry !== DEFAULT_REGISTRY) return `${ref.registry}/${ref.repository}`;
  return ref.repository.startsWith('library/') ? ref.repository.slice('library/'.length) : ref.repository;
}

/** `host/repo` without tag or digest. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** The host:port to connect to for a registry (Docker Hub's API is on another host). */
export function registryApiHost(registry: string): string {
  return registry === DEFAULT_REGISTRY ? DOCKER_HUB_API_HOST : registry;
}

/** The same repository pinned to `digest` (the tag is kept, as docker prints `name:tag@digest`). */
export function withDigest(ref: ImageReference, digest: string): ImageReference {
  return { ...ref, digest };
}
