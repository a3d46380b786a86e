/** The one error spec generation throws: a stable code and the run option or image-config field at fault. */
import { HuskError } from '../errors.js';

export const SpecGenerationErrorCode = {
  /** A run option has a bad value (`options.memory: invalid size "12q"`). */
  InvalidOption: 'EINVAL_RUN_OPTION',
  /** The image config has a field husk cannot use (`config.WorkingDir: must be absolute`). */
  InvalidImageConfig: 'EINVAL_IMAGE_CONFIG',
  /** The user (or group) named by `config.User`/`options.user` is not in the image's passwd/group. */
  UnknownUser: 'ENOENT_USER',
  /** Neither the image nor the options give a command (docker: "no command specified"). */
  NoCommand: 'ENOCMD',
} as const;

export type SpecGenerationErrorCodeName = (typeof SpecGenerationErrorCode)[keyof typeof SpecGenerationErrorCode];

/** Thrown by specFromImage and its helpers; `field` is e.g. "options.capAdd[1]" or "config.User". */
export class SpecGenerationError extends HuskError {
  readonly field: string;

  constructor(code: SpecGenerationErrorCodeName, field: string, message: string, options?: { cause?: unknown }) {
    super(code, `${field}: ${message}`, options);
    this.name = 'SpecGenerationError';
    this.field = field;
  }
}

export function invalidOption(field: string, message: string): SpecGenerationError {
  return new SpecGenerationError(SpecGenerationErrorCode.InvalidOption, field, message);
}

export function invalidImageConfig(field: string, message: string): SpecGenerationError {
  return new SpecGenerationError(SpecGenerationErrorCode.InvalidImageConfig, field, message);
}
