/**
 * The OCI runtime-spec container configuration (config.json, v1.2) as zod schemas.
 * Objects are loose: the spec allows extensions, so unknown fields are kept, not rejected.
 * Required fields follow the spec's JSON schema; semantic checks (absolute paths, …) belong to the core.
 */
import { z } from 'zod';
import { parseDocument } from './parse.js';
import { annotations, int32, int64, integer, stringArray, stringMap, uint16, uint32, uint64 } from './primitives.js';

// ---------------------------------------------------------------- enums

export const NamespaceTypeSchema = z.enum(['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time']);

export const SeccompActionSchema = z.enum([
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
]);

export const SeccompOperatorSchema = z.enum([
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
]);

export const SeccompArchSchema = z.enum([
  'SCMP_ARCH_X86',
  'SCMP_ARCH_X86_64',
  'SCMP_ARCH_X32',
  'SCMP_ARCH_ARM',
  'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64',
  'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC',
  'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE',
  'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X',
  'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64',
  'SCMP_ARCH_RISCV64',
  'SCMP_ARCH_LOONGARCH64',
]);

/** seccomp(2) filter flags; the spec names LOG, SPEC_ALLOW and WAIT_KILLABLE_RECV, newer kernels add more. */
export const SeccompFlagSchema = z.string().regex(/^SECCOMP_FILTER_FLAG_[A-Z_]+$/);

/** Runtimes accept the recursive forms too (CRI-O writes "rslave"), so they are allowed here. */
export const RootfsPropagationSchema = z.enum([
  'private',
  'rprivate',
  'shared',
  'rshared',
  'slave',
  'rslave',
  'unbindable',
  'runbindable',
]);

export const SchedulerPolicySchema = z.enum([
  'SCHED_OTHER',
  'SCHED_FIFO',
  'SCHED_RR',
  'SCHED_BATCH',
  'SCHED_ISO',
  'SCHED_IDLE',
  'SCHED_DEADLINE',
]);

export const SchedulerFlagSchema = z.enum([
  'SCHED_FLAG_RESET_ON_FORK',
  'SCHED_FLAG_RECLAIM',
  'SCHED_FLAG_DL_OVERRUN',
  'SCHED_FLAG_KEEP_POLICY',
  'SCHED_FLAG_KEEP_PARAMS',
  'SCHED_FLAG_UTIL_CLAMP_MIN',
  'SCHED_FLAG_UTIL_CLAMP_MAX',
]);

export const IOPriorityClassSchema = z.enum(['IOPRIO_CLASS_RT', 'IOPRIO_CLASS_BE', 'IOPRIO_CLASS_IDLE']);

export const PersonalityDomainSchema = z.enum(['LINUX', 'LINUX32']);

/** Linux capability names; validated loosely so capabilities newer than this file still parse. */
export const CapabilitySchema = z.string().regex(/^CAP_[A-Z0-9_]+$/);

// ---------------------------------------------------------------- shared pieces

export const IDMappingSchema = z.looseObject({
  containerID: uint32,
  hostID: uint32,
  size: uint32,
});

export const MountSchema = z.looseObject({
  destination: z.string(),
  source: z.string().optional(),
  options: stringArray.optional(),
  type: z.string().optional(),
  uidMappings: z.array(IDMappingSchema).optional(),
  gidMappings: z.array(IDMappingSchema).optional(),
});

export const HookSchema = z.looseObject({
  path: z.string(),
  args: stringArray.optional(),
  env: stringArray.optional(),
  timeout: integer.refine((t) => t > 0, 'expected a timeout > 0 seconds').optional(),
});

const hookList = z.array(HookSchema).optional();

export const HooksSchema = z.looseObject({
  /** Deprecated by the spec in favour of createRuntime/createContainer/startContainer. */
  prestart: hookList,
  createRuntime: hookList,
  createContainer: hookList,
  startContainer: hookList,
  poststart: hookList,
  poststop: hookList,
});

// ---------------------------------------------------------------- process

export const UserSchema = z.looseObject({
  uid: uint32.optional(),
  gid: uint32.optional(),
  umask: uint32.optional(),
  additionalGids: z.array(uint32).optional(),
  username: z.string().optional(),
});

export const CapabilitiesSchema = z.looseObject({
  bounding: z.array(CapabilitySchema).optional(),
  effective: z.array(CapabilitySchema).optional(),
  inheritable: z.array(CapabilitySchema).optional(),
  permitted: z.array(CapabilitySchema).optional(),
  ambient: z.array(CapabilitySchema).optional(),
});

export const RlimitSchema = z.looseObject({
  type: z.string().regex(/^RLIMIT_[A-Z]+$/),
  soft: uint64,
  hard: uint64,
});

export const SchedulerSchema = z.looseObject({
  policy: SchedulerPolicySchema,
  nice: int32.optional(),
  priority: int32.optional(),
  flags: z.array(SchedulerFlagSchema).optional(),
  runtime: uint64.optional(),
  deadline: uint64.optional(),
  period: uint64.optional(),
});

export const IOPrioritySchema = z.looseObject({
  class: IOPriorityClassSchema,
  priority: int32.optional(),
});

const cpuList = z.string().regex(/^[0-9, -]*$/);

export const ExecCPUAffinitySchema = z.looseObject({
  initial: cpuList.optional(),
  final: cpuList.optional(),
});

export const ProcessSchema = z.looseObject({
  terminal: z.boolean().optional(),
  consoleSize: z.looseObject({ height: uint64, width: uint64 }).optional(),
  user: UserSchema.optional(),
  args: stringArray.optional(),
  /** Windows only: the whole command line as one string. */
  commandLine: z.string().optional(),
  env: stringArray.optional(),
  cwd: z.string(),
  capabilities: CapabilitiesSchema.optional(),
  rlimits: z.array(RlimitSchema).optional(),
  noNewPrivileges: z.boolean().optional(),
  apparmorProfile: z.string().optional(),
  oomScoreAdj: integer.optional(),
  selinuxLabel: z.string().optional(),
  ioPriority: IOPrioritySchema.optional(),
  scheduler: SchedulerSchema.optional(),
  execCPUAffinity: ExecCPUAffinitySchema.optional(),
});

export const RootSchema = z.looseObject({
  path: z.string(),
  readonly: z.boolean().optional(),
});

// ---------------------------------------------------------------- linux: resources

export const DeviceCgroupRuleSchema = z.looseObject({
  allow: z.boolean(),
  type: z.string().optional(),
  major: int64.optional(),
  minor: int64.optional(),
  access: z.string().optional(),
});

export const MemorySchema = z.looseObject({
  limit: int64.optional(),
  reservation: int64.optional(),
  swap: int64.optional(),
  /** Deprecated: kernel memory limits do not exist in cgroup v2. */
  kernel: int64.optional(),
  kernelTCP: int64.optional(),
  swappiness: uint64.optional(),
  disableOOMKiller: z.boolean().optional(),
  useHierarchy: z.boolean().optional(),
  checkBeforeUpdate: z.boolean().optional(),
});

export const CPUSchema = z.looseObject({
  shares: uint64.optional(),
  quota: int64.optional(),
  burst: uint64.optional(),
  period: uint64.optional(),
  realtimeRuntime: int64.optional(),
  realtimePeriod: uint64.optional(),
  cpus: z.string().optional(),
  mems: z.string().optional(),
  idle: int64.optional(),
});

export const PidsSchema = z.looseObject({ limit: int64 });

const blockIODevice = { major: int64, minor: int64 };

export const WeightDeviceSchema = z.looseObject({
  ...blockIODevice,
  weight: uint16.optional(),
  leafWeight: uint16.optional(),
});

export const ThrottleDeviceSchema = z.looseObject({ ...blockIODevice, rate: uint64 });

export const BlockIOSchema = z.looseObject({
  weight: uint16.optional(),
  leafWeight: uint16.optional(),
  weightDevice: z.array(WeightDeviceSchema).optional(),
  throttleReadBpsDevice: z.array(ThrottleDeviceSchema).optional(),
  throttleWriteBpsDevice: z.array(ThrottleDeviceSchema).optional(),
  throttleReadIOPSDevice: z.array(ThrottleDeviceSchema).optional(),
  throttleWriteIOPSDevice: z.array(ThrottleDeviceSchema).optional(),
});

export const HugepageLimitSchema = z.looseObject({ pageSize: z.string(), limit: uint64 });

export const NetworkResourcesSchema = z.looseObject({
  classID: uint32.optional(),
  priorities: z.array(z.looseObject({ name: z.string(), priority: uint32 })).optional(),
});

export const RdmaLimitSchema = z.looseObject({
  hcaHandles: uint32.optional(),
  hcaObjects: uint32.optional(),
});

export const ResourcesSchema = z.looseObject({
  devices: z.array(DeviceCgroupRuleSchema).optional(),
  memory: MemorySchema.optional(),
  cpu: CPUSchema.optional(),
  pids: PidsSchema.optional(),
  blockIO: BlockIOSchema.optional(),
  hugepageLimits: z.array(HugepageLimitSchema).optional(),
  network: NetworkResourcesSchema.optional(),
  /** Keyed by RDMA device name. */
  rdma: z.record(z.string(), RdmaLimitSchema).optional(),
  /** cgroup v2 files written as is, e.g. {"memory.high": "1G"}. */
  unified: stringMap.optional(),
});

// ---------------------------------------------------------------- linux: the rest

export const NamespaceSchema = z.looseObject({
  type: NamespaceTypeSchema,
  path: z.string().optional(),
});

export const DeviceSchema = z.looseObject({
  type: z.string().regex(/^[cbup]$/),
  path: z.string(),
  major: int64.optional(),
  minor: int64.optional(),
  fileMode: uint32.optional(),
  uid: uint32.optional(),
  gid: uint32.optional(),
});

export const TimeOffsetSchema = z.looseObject({
  secs: int64.optional(),
  nanosecs: uint32.optional(),
});

export const SeccompArgSchema = z.looseObject({
  index: uint32,
  value: uint64,
  valueTwo: uint64.optional(),
  op: SeccompOperatorSchema,
});

export const SyscallSchema = z.looseObject({
  names: z.array(z.string()).min(1),
  action: SeccompActionSchema,
  errnoRet: uint32.optional(),
  args: z.array(SeccompArgSchema).optional(),
});

export const SeccompSchema = z.looseObject({
  defaultAction: SeccompActionSchema,
  defaultErrnoRet: uint32.optional(),
  architectures: z.array(SeccompArchSchema).optional(),
  flags: z.array(SeccompFlagSchema).optional(),
  listenerPath: z.string().optional(),
  listenerMetadata: z.string().optional(),
  syscalls: z.array(SyscallSchema).optional(),
});

export const IntelRdtSchema = z.looseObject({
  closID: z.string().optional(),
  schemata: z.string().optional(),
  l3CacheSchema: z.string().optional(),
  memBwSchema: z
    .string()
    .regex(/^MB:[^\n]*$/)
    .optional(),
  enableCMT: z.boolean().optional(),
  enableMBM: z.boolean().optional(),
});

export const PersonalitySchema = z.looseObject({
  domain: PersonalityDomainSchema,
  flags: stringArray.optional(),
});

/** A host network device moved into the container, keyed by its host name (runtime-spec 1.2.1+). */
export const NetDeviceSchema = z.looseObject({ name: z.string().optional() });

export const LinuxSchema = z.looseObject({
  namespaces: z.array(NamespaceSchema).optional(),
  uidMappings: z.array(IDMappingSchema).optional(),
  gidMappings: z.array(IDMappingSchema).optional(),
  /** Keyed by clock: "monotonic", "boottime". */
  timeOffsets: z.record(z.string(), TimeOffsetSchema).optional(),
  devices: z.array(DeviceSchema).optional(),
  netDevices: z.record(z.string(), NetDeviceSchema).optional(),
  cgroupsPath: z.string().optional(),
  resources: ResourcesSchema.optional(),
  intelRdt: IntelRdtSchema.optional(),
  sysctl: stringMap.optional(),
  seccomp: SeccompSchema.optional(),
  rootfsPropagation: RootfsPropagationSchema.optional(),
  maskedPaths: stringArray.optional(),
  readonlyPaths: stringArray.optional(),
  mountLabel: z.string().optional(),
  personality: PersonalitySchema.optional(),
});

// ---------------------------------------------------------------- the document

/** config.json. Other platforms' sections (windows, solaris, vm, zos) pass through unvalidated. */
export const RuntimeSpecSchema = z.looseObject({
  ociVersion: z.string(),
  process: ProcessSchema.optional(),
  root: RootSchema.optional(),
  hostname: z.string().optional(),
  domainname: z.string().optional(),
  mounts: z.array(MountSchema).optional(),
  hooks: HooksSchema.optional(),
  annotations: annotations.optional(),
  linux: LinuxSchema.optional(),
});

export type RuntimeSpec = z.infer<typeof RuntimeSpecSchema>;
export type Process = z.infer<typeof ProcessSchema>;
export type User = z.infer<typeof UserSchema>;
export type Capabilities = z.infer<typeof CapabilitiesSchema>;
export type Rlimit = z.infer<typeof RlimitSchema>;
export type Root = z.infer<typeof RootSchema>;
export type Mount = z.infer<typeof MountSchema>;
export type Hook = z.infer<typeof HookSchema>;
export type Hooks = z.infer<typeof HooksSchema>;
export type Linux = z.infer<typeof LinuxSchema>;
export type Namespace = z.infer<typeof NamespaceSchema>;
export type NamespaceType = z.infer<typeof NamespaceTypeSchema>;
export type IDMapping = z.infer<typeof IDMappingSchema>;
export type Device = z.infer<typeof DeviceSchema>;
export type Resources = z.infer<typeof ResourcesSchema>;
export type Seccomp = z.infer<typeof SeccompSchema>;
export type Syscall = z.infer<typeof SyscallSchema>;
export type SeccompAction = z.infer<typeof SeccompActionSchema>;
export type SeccompOperator = z.infer<typeof SeccompOperatorSchema>;
export type SeccompArch = z.infer<typeof SeccompArchSchema>;

/** Validates a parsed config.json; throws SpecError (code EINVAL_SPEC) naming each bad path. */
export function parseRuntimeSpec(json: unknown): RuntimeSpec {
  return parseDocument(RuntimeSpecSchema, json, 'runtime spec');
}
