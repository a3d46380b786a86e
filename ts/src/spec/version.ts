/** The OCI spec versions husk implements; kept free of zod so the CLI can name them without loading it. */

/** The runtime-spec version husk implements (matches husk-core's OCI_VERSION). */
export const OCI_RUNTIME_SPEC_VERSION = '1.2.0';
