"""The runtime-spec schemas as Python literals.  GENERATED: do not edit.

Source: schemas/config-schema.json, state-schema.json.
Regenerate with ``python3 -m ociruntime.config.genschema``.
"""

# fmt: off

CONFIG_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://github.com/ociruntime/ociruntime/schemas/config-schema.json",
    "title": "OCI runtime-spec v1.2 config.json (Linux)",
    "description": "Written for ociruntime from config.md and config-linux.md of runtime-spec v1.2. Lenient like the official schema: unknown fields are allowed everywhere. 'x-expect' is an annotation our validator uses to word its error messages.",
    "type": "object",
    "required": [
        "ociVersion",
    ],
    "properties": {
        "ociVersion": {
            "$ref": "#/$defs/ociVersion",
        },
        "root": {
            "$ref": "#/$defs/Root",
        },
        "mounts": {
            "type": "array",
            "items": {
                "$ref": "#/$defs/Mount",
            },
        },
        "process": {
            "$ref": "#/$defs/Process",
        },
        "hostname": {
            "type": "string",
        },
        "domainname": {
            "type": "string",
        },
        "hooks": {
            "$ref": "#/$defs/Hooks",
        },
        "annotations": {
            "$ref": "#/$defs/mapStringString",
        },
        "linux": {
            "$ref": "#/$defs/Linux",
        },
    },
    "$defs": {
        "int32": {
            "type": "integer",
            "minimum": -2147483648,
            "maximum": 2147483647,
        },
        "int64": {
            "type": "integer",
            "minimum": -9223372036854775808,
            "maximum": 9223372036854775807,
        },
        "uint16": {
            "type": "integer",
            "minimum": 0,
            "maximum": 65535,
        },
        "uint32": {
            "type": "integer",
            "minimum": 0,
            "maximum": 4294967295,
        },
        "uint64": {
            "type": "integer",
            "minimum": 0,
            "maximum": 18446744073709551615,
        },
        "ociVersion": {
            "description": "The runtime-spec version the document complies with (SemVer 2.0.0).",
            "type": "string",
            "pattern": "^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?$",
            "x-expect": "a semantic version such as \"1.2.0\"",
        },
        "FilePath": {
            "type": "string",
        },
        "ArrayOfStrings": {
            "type": "array",
            "items": {
                "type": "string",
            },
        },
        "mapStringString": {
            "type": "object",
            "additionalProperties": {
                "type": "string",
            },
        },
        "IDMapping": {
            "type": "object",
            "required": [
                "containerID",
                "hostID",
                "size",
            ],
            "properties": {
                "containerID": {
                    "$ref": "#/$defs/uint32",
                },
                "hostID": {
                    "$ref": "#/$defs/uint32",
                },
                "size": {
                    "$ref": "#/$defs/uint32",
                },
            },
        },
        "ArrayOfIDMappings": {
            "type": "array",
            "items": {
                "$ref": "#/$defs/IDMapping",
            },
        },
        "Root": {
            "type": "object",
            "required": [
                "path",
            ],
            "properties": {
                "path": {
                    "$ref": "#/$defs/FilePath",
                },
                "readonly": {
                    "type": "boolean",
                },
            },
        },
        "Mount": {
            "type": "object",
            "required": [
                "destination",
            ],
            "properties": {
                "destination": {
                    "$ref": "#/$defs/FilePath",
                },
                "source": {
                    "$ref": "#/$defs/FilePath",
                },
                "type": {
                    "type": "string",
                },
                "options": {
                    "$ref": "#/$defs/ArrayOfStrings",
                },
                "uidMappings": {
                    "$ref": "#/$defs/ArrayOfIDMappings",
                },
                "gidMappings": {
                    "$ref": "#/$defs/ArrayOfIDMappings",
                },
            },
        },
        "Hook": {
            "type": "object",
            "required": [
                "path",
            ],
            "properties": {
                "path": {
                    "$ref": "#/$defs/FilePath",
                },
                "args": {
                    "$ref": "#/$defs/ArrayOfStrings",
                },
                "env": {
                    "$ref": "#/$defs/ArrayOfStrings",
                },
                "timeout": {
                    "type": "integer",
                    "minimum": 1,
                },
            },
        },
        "ArrayOfHooks": {
            "type": "array",
            "items": {
                "$ref": "#/$defs/Hook",
            },
        },
        "Hooks": {
            "type": "object",
            "properties": {
                "prestart": {
                    "$ref": "#/$defs/ArrayOfHooks",
                },
                "createRuntime": {
                    "$ref": "#/$defs/ArrayOfHooks",
                },
                "createContainer": {
                    "$ref": "#/$defs/ArrayOfHooks",
                },
                "startContainer": {
                    "$ref": "#/$defs/ArrayOfHooks",
                },
                "poststart": {
                    "$ref": "#/$defs/ArrayOfHooks",
                },
                "poststop": {
                    "$ref": "#/$defs/ArrayOfHooks",
                },
            },
        },
        "Process": {
            "type": "object",
            "required": [
                "cwd",
            ],
            "properties": {
                "terminal": {
                    "type": "boolean",
                },
                "consoleSize": {
                    "type": "object",
                    "required": [
                        "height",
                        "width",
                    ],
                    "properties": {
                        "height": {
                            "$ref": "#/$defs/uint64",
                        },
                        "width": {
                            "$ref": "#/$defs/uint64",
                        },
                    },
                },
                "cwd": {
                    "type": "string",
                },
                "env": {
                    "$ref": "#/$defs/ArrayOfStrings",
                },
                "args": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "string",
                    },
                },
                "commandLine": {
                    "type": "string",
                },
                "user": {
                    "type": "object",
                    "properties": {
                        "uid": {
                            "$ref": "#/$defs/uint32",
                        },
                        "gid": {
                            "$ref": "#/$defs/uint32",
                        },
                        "umask": {
                            "$ref": "#/$defs/uint32",
                        },
                        "additionalGids": {
                            "type": "array",
                            "items": {
                                "$ref": "#/$defs/uint32",
                            },
                        },
                        "username": {
                            "type": "string",
                        },
                    },
                },
                "capabilities": {
                    "type": "object",
                    "properties": {
                        "bounding": {
                            "$ref": "#/$defs/ArrayOfStrings",
                        },
                        "effective": {
                            "$ref": "#/$defs/ArrayOfStrings",
                        },
                        "inheritable": {
                            "$ref": "#/$defs/ArrayOfStrings",
                        },
                        "permitted": {
                            "$ref": "#/$defs/ArrayOfStrings",
                        },
                        "ambient": {
                            "$ref": "#/$defs/ArrayOfStrings",
                        },
                    },
                },
                "rlimits": {
                    "type": "array",
                    "items": {
                        "$ref": "#/$defs/Rlimit",
                    },
                },
                "apparmorProfile": {
                    "type": "string",
                },
                "selinuxLabel": {
                    "type": "string",
                },
                "noNewPrivileges": {
                    "type": "boolean",
                },
                "oomScoreAdj": {
                    "type": "integer",
                },
                "scheduler": {
                    "$ref": "#/$defs/Scheduler",
                },
                "ioPriority": {
                    "type": "object",
                    "required": [
                        "class",
                    ],
                    "properties": {
                        "class": {
                            "type": "string",
                            "enum": [
                                "IOPRIO_CLASS_RT",
                                "IOPRIO_CLASS_BE",
                                "IOPRIO_CLASS_IDLE",
                            ],
                        },
                        "priority": {
                            "$ref": "#/$defs/int32",
                        },
                    },
                },
                "execCPUAffinity": {
                    "type": "object",
                    "properties": {
                        "initial": {
                            "$ref": "#/$defs/CPUList",
                        },
                        "final": {
                            "$ref": "#/$defs/CPUList",
                        },
                    },
                },
            },
        },
        "Rlimit": {
            "type": "object",
            "required": [
                "type",
                "soft",
                "hard",
            ],
            "properties": {
                "type": {
                    "type": "string",
                    "pattern": "^RLIMIT_[A-Z]+$",
                    "x-expect": "an rlimit name such as \"RLIMIT_NOFILE\"",
                },
                "soft": {
                    "$ref": "#/$defs/uint64",
                },
                "hard": {
                    "$ref": "#/$defs/uint64",
                },
            },
        },
        "Scheduler": {
            "type": "object",
            "required": [
                "policy",
            ],
            "properties": {
                "policy": {
                    "type": "string",
                    "enum": [
                        "SCHED_OTHER",
                        "SCHED_FIFO",
                        "SCHED_RR",
                        "SCHED_BATCH",
                        "SCHED_ISO",
                        "SCHED_IDLE",
                        "SCHED_DEADLINE",
                    ],
                },
                "nice": {
                    "$ref": "#/$defs/int32",
                },
                "priority": {
                    "$ref": "#/$defs/int32",
                },
                "flags": {
                    "type": "array",
                    "items": {
                        "type": "string",
                        "enum": [
                            "SCHED_FLAG_RESET_ON_FORK",
                            "SCHED_FLAG_RECLAIM",
                            "SCHED_FLAG_DL_OVERRUN",
                            "SCHED_FLAG_KEEP_POLICY",
                            "SCHED_FLAG_KEEP_PARAMS",
                            "SCHED_FLAG_UTIL_CLAMP_MIN",
                            "SCHED_FLAG_UTIL_CLAMP_MAX",
                        ],
                    },
                },
                "runtime": {
                    "$ref": "#/$defs/uint64",
                },
                "deadline": {
                    "$ref": "#/$defs/uint64",
                },
                "period": {
                    "$ref": "#/$defs/uint64",
                },
            },
        },
        "CPUList": {
            "type": "string",
            "pattern": "^[0-9, -]*$",
            "x-expect": "a CPU list such as \"0-3,7\"",
        },
        "Linux": {
            "type": "object",
            "properties": {
                "namespaces": {
                    "type": "array",
                    "items": {
                        "$ref": "#/$defs/NamespaceReference",
                    },
                },
                "uidMappings": {
                    "$ref": "#/$defs/ArrayOfIDMappings",
                },
                "gidMappings": {
                    "$ref": "#/$defs/ArrayOfIDMappings",
                },
                "timeOffsets": {
                    "type": "object",
                    "properties": {
                        "boottime": {
                            "$ref": "#/$defs/TimeOffset",
                        },
                        "monotonic": {
                            "$ref": "#/$defs/TimeOffset",
                        },
                    },
                },
                "devices": {
                    "type": "array",
                    "items": {
                        "$ref": "#/$defs/Device",
                    },
                },
                "netDevices": {
                    "type": "object",
                    "additionalProperties": {
                        "$ref": "#/$defs/NetDevice",
                    },
                },
                "cgroupsPath": {
                    "type": "string",
                },
                "resources": {
                    "$ref": "#/$defs/Resources",
                },
                "intelRdt": {
                    "type": "object",
                    "properties": {
                        "closID": {
                            "type": "string",
                        },
                        "l3CacheSchema": {
                            "type": "string",
                        },
                        "memBwSchema": {
                            "type": "string",
                            "pattern": "^MB:[^\\n]*$",
                            "x-expect": "a string starting with \"MB:\"",
                        },
                        "enableCMT": {
                            "type": "boolean",
                        },
                        "enableMBM": {
                            "type": "boolean",
                        },
                    },
                },
                "sysctl": {
                    "$ref": "#/$defs/mapStringString",
                },
                "seccomp": {
                    "$ref": "#/$defs/Seccomp",
                },
                "rootfsPropagation": {
                    "type": "string",
                    "enum": [
                        "private",
                        "shared",
                        "slave",
                        "unbindable",
                        "rprivate",
                        "rshared",
                        "rslave",
                        "runbindable",
                    ],
                },
                "maskedPaths": {
                    "$ref": "#/$defs/ArrayOfStrings",
                },
                "readonlyPaths": {
                    "$ref": "#/$defs/ArrayOfStrings",
                },
                "mountLabel": {
                    "type": "string",
                },
                "personality": {
                    "type": "object",
                    "required": [
                        "domain",
                    ],
                    "properties": {
                        "domain": {
                            "type": "string",
                            "enum": [
                                "LINUX",
                                "LINUX32",
                            ],
                        },
                        "flags": {
                            "$ref": "#/$defs/ArrayOfStrings",
                        },
                    },
                },
            },
        },
        "NamespaceReference": {
            "type": "object",
            "required": [
                "type",
            ],
            "properties": {
                "type": {
                    "type": "string",
                    "enum": [
                        "pid",
                        "network",
                        "mount",
                        "ipc",
                        "uts",
                        "user",
                        "cgroup",
                        "time",
                    ],
                },
                "path": {
                    "$ref": "#/$defs/FilePath",
                },
            },
        },
        "TimeOffset": {
            "type": "object",
            "properties": {
                "secs": {
                    "$ref": "#/$defs/int64",
                },
                "nanosecs": {
                    "$ref": "#/$defs/uint32",
                },
            },
        },
        "Device": {
            "type": "object",
            "required": [
                "type",
                "path",
            ],
            "properties": {
                "type": {
                    "type": "string",
                    "enum": [
                        "c",
                        "b",
                        "u",
                        "p",
                    ],
                },
                "path": {
                    "$ref": "#/$defs/FilePath",
                },
                "major": {
                    "$ref": "#/$defs/int64",
                },
                "minor": {
                    "$ref": "#/$defs/int64",
                },
                "fileMode": {
                    "$ref": "#/$defs/uint32",
                },
                "uid": {
                    "$ref": "#/$defs/uint32",
                },
                "gid": {
                    "$ref": "#/$defs/uint32",
                },
            },
        },
        "NetDevice": {
            "type": "object",
            "properties": {
                "name": {
                    "type": "string",
                },
            },
        },
        "Resources": {
            "type": "object",
            "properties": {
                "devices": {
                    "type": "array",
                    "items": {
                        "$ref": "#/$defs/DeviceCgroup",
                    },
                },
                "memory": {
                    "type": "object",
                    "properties": {
                        "limit": {
                            "$ref": "#/$defs/int64",
                        },
                        "reservation": {
                            "$ref": "#/$defs/int64",
                        },
                        "swap": {
                            "$ref": "#/$defs/int64",
                        },
                        "kernel": {
                            "$ref": "#/$defs/int64",
                        },
                        "kernelTCP": {
                            "$ref": "#/$defs/int64",
                        },
                        "swappiness": {
                            "$ref": "#/$defs/uint64",
                        },
                        "disableOOMKiller": {
                            "type": "boolean",
                        },
                        "useHierarchy": {
                            "type": "boolean",
                        },
                        "checkBeforeUpdate": {
                            "type": "boolean",
                        },
                    },
                },
                "cpu": {
                    "type": "object",
                    "properties": {
                        "shares": {
                            "$ref": "#/$defs/uint64",
                        },
                        "quota": {
                            "$ref": "#/$defs/int64",
                        },
                        "burst": {
                            "$ref": "#/$defs/uint64",
                        },
                        "period": {
                            "$ref": "#/$defs/uint64",
                        },
                        "realtimeRuntime": {
                            "$ref": "#/$defs/int64",
                        },
                        "realtimePeriod": {
                            "$ref": "#/$defs/uint64",
                        },
                        "cpus": {
                            "type": "string",
                        },
                        "mems": {
                            "type": "string",
                        },
                        "idle": {
                            "$ref": "#/$defs/int64",
                        },
                    },
                },
                "blockIO": {
                    "type": "object",
                    "properties": {
                        "weight": {
                            "$ref": "#/$defs/uint16",
                        },
                        "leafWeight": {
                            "$ref": "#/$defs/uint16",
                        },
                        "weightDevice": {
                            "type": "array",
                            "items": {
                                "$ref": "#/$defs/BlockIODeviceWeight",
                            },
                        },
                        "throttleReadBpsDevice": {
                            "$ref": "#/$defs/ArrayOfThrottles",
                        },
                        "throttleWriteBpsDevice": {
                            "$ref": "#/$defs/ArrayOfThrottles",
                        },
                        "throttleReadIOPSDevice": {
                            "$ref": "#/$defs/ArrayOfThrottles",
                        },
                        "throttleWriteIOPSDevice": {
                            "$ref": "#/$defs/ArrayOfThrottles",
                        },
                    },
                },
                "hugepageLimits": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": [
                            "pageSize",
                            "limit",
                        ],
                        "properties": {
                            "pageSize": {
                                "type": "string",
                                "pattern": "^[1-9][0-9]*[KMG]B$",
                                "x-expect": "a page size such as \"2MB\"",
                            },
                            "limit": {
                                "$ref": "#/$defs/uint64",
                            },
                        },
                    },
                },
                "network": {
                    "type": "object",
                    "properties": {
                        "classID": {
                            "$ref": "#/$defs/uint32",
                        },
                        "priorities": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": [
                                    "name",
                                    "priority",
                                ],
                                "properties": {
                                    "name": {
                                        "type": "string",
                                    },
                                    "priority": {
                                        "$ref": "#/$defs/uint32",
                                    },
                                },
                            },
                        },
                    },
                },
                "pids": {
                    "type": "object",
                    "required": [
                        "limit",
                    ],
                    "properties": {
                        "limit": {
                            "$ref": "#/$defs/int64",
                        },
                    },
                },
                "rdma": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {
                            "hcaHandles": {
                                "$ref": "#/$defs/uint32",
                            },
                            "hcaObjects": {
                                "$ref": "#/$defs/uint32",
                            },
                        },
                    },
                },
                "unified": {
                    "$ref": "#/$defs/mapStringString",
                },
            },
        },
        "DeviceCgroup": {
            "type": "object",
            "required": [
                "allow",
            ],
            "properties": {
                "allow": {
                    "type": "boolean",
                },
                "type": {
                    "type": "string",
                },
                "major": {
                    "$ref": "#/$defs/int64",
                },
                "minor": {
                    "$ref": "#/$defs/int64",
                },
                "access": {
                    "type": "string",
                },
            },
        },
        "BlockIODeviceWeight": {
            "type": "object",
            "required": [
                "major",
                "minor",
            ],
            "properties": {
                "major": {
                    "$ref": "#/$defs/int64",
                },
                "minor": {
                    "$ref": "#/$defs/int64",
                },
                "weight": {
                    "$ref": "#/$defs/uint16",
                },
                "leafWeight": {
                    "$ref": "#/$defs/uint16",
                },
            },
        },
        "ArrayOfThrottles": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "major",
                    "minor",
                ],
                "properties": {
                    "major": {
                        "$ref": "#/$defs/int64",
                    },
                    "minor": {
                        "$ref": "#/$defs/int64",
                    },
                    "rate": {
                        "$ref": "#/$defs/uint64",
                    },
                },
            },
        },
        "Seccomp": {
            "type": "object",
            "required": [
                "defaultAction",
            ],
            "properties": {
                "defaultAction": {
                    "$ref": "#/$defs/SeccompAction",
                },
                "defaultErrnoRet": {
                    "$ref": "#/$defs/uint32",
                },
                "architectures": {
                    "type": "array",
                    "items": {
                        "type": "string",
                        "enum": [
                            "SCMP_ARCH_X86",
                            "SCMP_ARCH_X86_64",
                            "SCMP_ARCH_X32",
                            "SCMP_ARCH_ARM",
                            "SCMP_ARCH_AARCH64",
                            "SCMP_ARCH_MIPS",
                            "SCMP_ARCH_MIPS64",
                            "SCMP_ARCH_MIPS64N32",
                            "SCMP_ARCH_MIPSEL",
                            "SCMP_ARCH_MIPSEL64",
                            "SCMP_ARCH_MIPSEL64N32",
                            "SCMP_ARCH_PPC",
                            "SCMP_ARCH_PPC64",
                            "SCMP_ARCH_PPC64LE",
                            "SCMP_ARCH_S390",
                            "SCMP_ARCH_S390X",
                            "SCMP_ARCH_PARISC",
                            "SCMP_ARCH_PARISC64",
                            "SCMP_ARCH_RISCV64",
                            "SCMP_ARCH_LOONGARCH64",
                        ],
                    },
                },
                "flags": {
                    "type": "array",
                    "items": {
                        "type": "string",
                        "enum": [
                            "SECCOMP_FILTER_FLAG_TSYNC",
                            "SECCOMP_FILTER_FLAG_LOG",
                            "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
                        ],
                    },
                },
                "listenerPath": {
                    "$ref": "#/$defs/FilePath",
                },
                "listenerMetadata": {
                    "type": "string",
                },
                "syscalls": {
                    "type": "array",
                    "items": {
                        "$ref": "#/$defs/Syscall",
                    },
                },
            },
        },
        "SeccompAction": {
            "type": "string",
            "enum": [
                "SCMP_ACT_KILL",
                "SCMP_ACT_KILL_PROCESS",
                "SCMP_ACT_KILL_THREAD",
                "SCMP_ACT_TRAP",
                "SCMP_ACT_ERRNO",
                "SCMP_ACT_TRACE",
                "SCMP_ACT_ALLOW",
                "SCMP_ACT_LOG",
                "SCMP_ACT_NOTIFY",
            ],
        },
        "Syscall": {
            "type": "object",
            "required": [
                "names",
                "action",
            ],
            "properties": {
                "names": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "string",
                    },
                },
                "action": {
                    "$ref": "#/$defs/SeccompAction",
                },
                "errnoRet": {
                    "$ref": "#/$defs/uint32",
                },
                "args": {
                    "type": "array",
                    "items": {
                        "$ref": "#/$defs/SyscallArg",
                    },
                },
            },
        },
        "SyscallArg": {
            "type": "object",
            "required": [
                "index",
                "value",
                "op",
            ],
            "properties": {
                "index": {
                    "$ref": "#/$defs/uint32",
                },
                "value": {
                    "$ref": "#/$defs/uint64",
                },
                "valueTwo": {
                    "$ref": "#/$defs/uint64",
                },
                "op": {
                    "type": "string",
                    "enum": [
                        "SCMP_CMP_NE",
                        "SCMP_CMP_LT",
                        "SCMP_CMP_LE",
                        "SCMP_CMP_EQ",
                        "SCMP_CMP_GE",
                        "SCMP_CMP_GT",
                        "SCMP_CMP_MASKED_EQ",
                    ],
                },
            },
        },
    },
}

STATE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://github.com/ociruntime/ociruntime/schemas/state-schema.json",
    "title": "OCI runtime-spec v1.2 container state",
    "description": "Written for ociruntime from runtime.md (State) of runtime-spec v1.2. 'paused' is accepted too: runc reports it, and so do we. Unknown fields are allowed.",
    "type": "object",
    "required": [
        "ociVersion",
        "id",
        "status",
        "bundle",
    ],
    "properties": {
        "ociVersion": {
            "$ref": "#/$defs/ociVersion",
        },
        "id": {
            "type": "string",
            "minLength": 1,
        },
        "status": {
            "type": "string",
            "enum": [
                "creating",
                "created",
                "running",
                "paused",
                "stopped",
            ],
        },
        "pid": {
            "type": "integer",
            "minimum": 0,
        },
        "bundle": {
            "type": "string",
        },
        "annotations": {
            "type": "object",
            "additionalProperties": {
                "type": "string",
            },
        },
    },
    "$defs": {
        "ociVersion": {
            "description": "The runtime-spec version the state complies with (SemVer 2.0.0).",
            "type": "string",
            "pattern": "^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?$",
            "x-expect": "a semantic version such as \"1.2.0\"",
        },
    },
}
