//! Typed errors of the bonding tool and their mapping to the seed's exit codes and exact
//! messages (BOND-11). Everything inside the tool returns a [`BondError`]; only `run` turns it
//! into the seed text, so the misspellings of the original ("Finial", "is already existed")
//! live in exactly one place.

use std::fmt;

/// The `nn` in `(code=nn)`: which step failed, so an operator can tell two 106s apart.
/// The numbers are listed in docs/BOND.md; keep them stable.
pub type SubCode = u32;

/// Every way the tool can end without success (BOND-11; 113 is undefined in the seed).
#[derive(Debug, thiserror::Error)]
pub enum BondError {
    /// 101: the bond name is not bond0..bond3 (BOND-2).
    #[error("bond name `{0}` is not one of bond0..bond3")]
    InvalidBondName(String),
    /// 102: command-line syntax.
    #[error("bad command line: {0}")]
    Parameter(String),
    /// 103: fewer than two NICs to bond.
    #[error("only {0} network card(s) can be bonded")]
    TooFewNics(usize),
    /// 104: NIC discovery or back-end detection failed.
    #[error("cannot get system information: {detail}")]
    SystemInfo { code: SubCode, detail: String },
    /// 105: the tool file (BOND-9) could not be written.
    #[error("cannot write the tool file: {detail}")]
    WriteToolFile { code: SubCode, detail: String },
    /// 106: a network configuration file could not be written.
    #[error("cannot write a setting file: {detail}")]
    WriteSetting { code: SubCode, detail: String },
    /// 107: the tool file could not be read or has the wrong shape.
    #[error("cannot read the tool file: {detail}")]
    ReadToolFile { code: SubCode, detail: String },
    /// 108: the driver status file could not be read (BOND-12).
    #[error("cannot read the bonding status: {detail}")]
    ReadStatus { code: SubCode, detail: String },
    /// 109: NIC1 of the tool file is not a NIC of this host.
    #[error("NIC1 `{0}` is not a network card of this host")]
    Nic1(String),
    /// 110: NIC2 of the tool file is unknown or equals NIC1.
    #[error("NIC2 `{0}` is not usable")]
    Nic2(String),
    /// 111: IP address of the tool file.
    #[error("`{0}` is not an IPv4 address")]
    IpAddress(String),
    /// 112: netmask of the tool file.
    #[error("`{0}` is not a netmask")]
    MaskAddress(String),
    /// 114: post-action of the tool file.
    #[error("`{0}` is not a post action (1, 2 or 3)")]
    FinalAction(String),
    /// 115: anything that should not happen (input ended, lock file unusable, ...).
    #[error("internal error: {detail}")]
    Internal { code: SubCode, detail: String },
    /// 116: not root (BOND-4).
    #[error("effective user is not root")]
    NotRoot,
    /// 117: the driver-load file (step 6) could not be created.
    #[error("cannot create the driver-load file: {0}")]
    Script(String),
    /// 118: another instance holds the lock (BOND-4).
    #[error("another instance holds the lock")]
    AlreadyRunning,
}

impl BondError {
    /// The process exit status of BOND-11.
    pub fn exit_code(&self) -> i32 {
        match self {
            BondError::InvalidBondName(_) => 101,
            BondError::Parameter(_) => 102,
            BondError::TooFewNics(_) => 103,
            BondError::SystemInfo { .. } => 104,
            BondError::WriteToolFile { .. } => 105,
            BondError::WriteSetting { .. } => 106,
            BondError::ReadToolFile { .. } => 107,
            BondError::ReadStatus { .. } => 108,
            BondError::Nic1(_) => 109,
            BondError::Nic2(_) => 110,
            BondError::IpAddress(_) => 111,
            BondError::MaskAddress(_) => 112,
            BondError::FinalAction(_) => 114,
            BondError::Internal { .. } => 115,
            BondError::NotRoot => 116,
            BondError::Script(_) => 117,
            BondError::AlreadyRunning => 118,
        }
    }

    /// The seed's exact one-line message for this exit (BOND-11).
    pub fn seed_message(&self) -> SeedMessage<'_> {
        SeedMessage(self)
    }
}

/// Display adapter printing the seed's text, not the diagnostic one.
pub struct SeedMessage<'a>(&'a BondError);

impl fmt::Display for SeedMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            BondError::InvalidBondName(name) => {
                write!(f, "The bonding interface [{name}] is invalid.")
            }
            BondError::Parameter(_) => f.write_str("Parameter error."),
            BondError::TooFewNics(_) => f.write_str("Network cards to bonded are lesser than two."),
            BondError::SystemInfo { code, .. } => {
                write!(f, "Get system information error. (code={code})")
            }
            BondError::WriteToolFile { code, .. } => {
                write!(f, "Write an assistant file error. (code={code})")
            }
            BondError::WriteSetting { code, .. } => {
                write!(f, "Write setting file error. (code={code})")
            }
            BondError::ReadToolFile { code, .. } => {
                write!(f, "Read an assistant file error. (code={code})")
            }
            BondError::ReadStatus { code, .. } => {
                write!(f, "Read file of status error. (code={code})")
            }
            BondError::Nic1(_) => f.write_str("NIC1 error."),
            BondError::Nic2(_) => f.write_str("NIC2 error."),
            BondError::IpAddress(_) => f.write_str("IP address error."),
            BondError::MaskAddress(_) => f.write_str("Mask address error."),
            BondError::FinalAction(_) => f.write_str("Finial action error."),
            BondError::Internal { code, .. } => write!(f, "Internal error. (code={code})"),
            BondError::NotRoot => f.write_str("Must be super-user."),
            BondError::Script(_) => f.write_str("Create script file error."),
            BondError::AlreadyRunning => {
                f.write_str("The bonding setting tools is already running.")
            }
        }
    }
}

/// Sub-codes shared by several modules (documented in docs/BOND.md, "Exit codes").
pub mod code {
    use super::SubCode;
    /// 104: no back-end could be detected under the root.
    pub const NO_BACKEND: SubCode = 1;
    /// 104: `<root>/sys/class/net` could not be listed.
    pub const SYSFS: SubCode = 2;
    /// 104: an existing network configuration file could not be read.
    pub const READ_CONFIG: SubCode = 3;
    /// 105/106: creating a folder failed.
    pub const MKDIR: SubCode = 1;
    /// 105/106: writing, syncing or renaming the file failed.
    pub const WRITE: SubCode = 2;
    /// 106: the backup (-b) could not be made.
    pub const BACKUP: SubCode = 3;
    /// 106: the bonding parameters cannot be expressed in the back-end's format.
    pub const PARAMS: SubCode = 4;
    /// 107: the tool file is missing or unreadable.
    pub const MISSING: SubCode = 1;
    /// 107: the tool file does not have exactly seven lines.
    pub const SHAPE: SubCode = 2;
    /// 107: line 6 is neither Y nor N.
    pub const SCRIPT_FLAG: SubCode = 3;
    /// 108: no status file exists.
    pub const NO_STATUS: SubCode = 1;
    /// 108: the status file exists but could not be read.
    pub const STATUS_IO: SubCode = 2;
    /// 115: standard input ended before the dialogue finished.
    pub const INPUT_ENDED: SubCode = 1;
    /// 115: the lock file could not be opened.
    pub const LOCK_FILE: SubCode = 2;
    /// 115: writing to the terminal failed.
    pub const OUTPUT: SubCode = 3;
    /// 115: the post action's command could not be run.
    pub const POST_ACTION: SubCode = 4;
}
