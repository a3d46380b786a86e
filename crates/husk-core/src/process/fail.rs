//! How the init child reports a failed step to its parent: a fixed-size record, no allocation.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Step {
    SyncRecv = 1,
    Setns,
    UnshareCgroup,
    RootPropagation,
    BindRootfs,
    OpenRootfs,
    MountDestination,
    Mount,
    MountPropagation,
    RemountBind,
    Device,
    DevSymlink,
    Cwd,
    CreateContainerHook,
    PivotRoot,
    MaskPath,
    ReadonlyPath,
    ReadonlyRoot,
    Console,
    Sysctl,
    Hostname,
    Domainname,
    OomScoreAdj,
    Rlimit,
    Capabilities,
    SetGroups,
    SetGid,
    SetUid,
    NoNewPrivs,
    Chdir,
    FindExecutable,
    StartContainerHook,
    Exec,
    Personality,
    Stdio,
    JoinCgroup,
    Seccomp,
    IoPriority,
    Scheduler,
    AppArmor,
    SelinuxLabel,
}

impl Step {
    pub fn from_u32(v: u32) -> Option<Step> {
        if (Step::SyncRecv as u32..=Step::SelinuxLabel as u32).contains(&v) {
            // SAFETY: Step is repr(u32) with contiguous discriminants in that range.
            Some(unsafe { std::mem::transmute::<u32, Step>(v) })
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Fail {
    pub step: Step,
    pub index: u32,
    pub errno: i32,
}

impl Fail {
    pub fn new(step: Step, index: usize, errno: i32) -> Fail {
        Fail { step, index: index as u32, errno }
    }
    pub fn last(step: Step, index: usize) -> Fail {
        Fail::new(step, index, crate::util::errno())
    }
}

pub type ChildResult = Result<(), Fail>;
