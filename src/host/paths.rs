//! Default folders (DIR, MAP-3): FHS places as root, XDG places otherwise.
//!
//! | | root | non-root |
//! |---|---|---|
//! | state | `/var/lib/upkeep` | `$XDG_STATE_HOME/upkeep`, else `~/.local/state/upkeep` |
//! | runtime (socket, pid lock) | `/run/upkeep` | `$XDG_RUNTIME_DIR/upkeep`, else `/tmp/upkeep-<uid>` |
//! | logs | `/var/log/upkeep` | the state folder's `log/` |
//!
//! Every one of these can be overridden on the command line; these are only the defaults.

use std::ffi::OsString;
use std::path::PathBuf;

/// The inputs of the decision, so the rules can be tested without touching the real environment.
#[derive(Debug, Clone, Default)]
struct Inputs {
    root: bool,
    uid: u32,
    xdg_state_home: Option<OsString>,
    xdg_runtime_dir: Option<OsString>,
    home: Option<OsString>,
}

impl Inputs {
    fn from_process() -> Inputs {
        let euid = nix::unistd::geteuid();
        let home = std::env::var_os("HOME")
            .filter(|h| absolute(h).is_some())
            .or_else(|| {
                // No usable $HOME (a service manager may not set one): ask the user database.
                nix::unistd::User::from_uid(euid)
                    .ok()
                    .flatten()
                    .map(|u| u.dir.into_os_string())
            });
        Inputs {
            root: euid.is_root(),
            uid: euid.as_raw(),
            xdg_state_home: std::env::var_os("XDG_STATE_HOME"),
            xdg_runtime_dir: std::env::var_os("XDG_RUNTIME_DIR"),
            home,
        }
    }

    fn state_dir(&self) -> PathBuf {
        if self.root {
            return PathBuf::from("/var/lib/upkeep");
        }
        if let Some(xdg) = self.xdg_state_home.as_deref().and_then(absolute) {
            return xdg.join("upkeep");
        }
        match self.home.as_deref().and_then(absolute) {
            Some(home) => home.join(".local/state/upkeep"),
            // Nowhere better to go; at least per user.
            None => self.tmp_dir().join("state"),
        }
    }

    fn runtime_dir(&self) -> PathBuf {
        if self.root {
            return PathBuf::from("/run/upkeep");
        }
        match self.xdg_runtime_dir.as_deref().and_then(absolute) {
            Some(xdg) => xdg.join("upkeep"),
            None => self.tmp_dir(),
        }
    }

    fn log_dir(&self) -> PathBuf {
        if self.root {
            return PathBuf::from("/var/log/upkeep");
        }
        self.state_dir().join("log")
    }

    fn tmp_dir(&self) -> PathBuf {
        PathBuf::from(format!("/tmp/upkeep-{}", self.uid))
    }
}

/// The XDG base directory spec says relative (and empty) values are invalid and must be ignored.
fn absolute(value: &std::ffi::OsStr) -> Option<PathBuf> {
    let path = PathBuf::from(value);
    path.is_absolute().then_some(path)
}

/// Where the reboot count and other persistent state live; must survive a reboot.
pub fn default_state_dir() -> PathBuf {
    Inputs::from_process().state_dir()
}

/// Where the control socket and the pid lock live; may be wiped at boot.
pub fn default_runtime_dir() -> PathBuf {
    Inputs::from_process().runtime_dir()
}

/// Where the rolled log files go.
pub fn default_log_dir() -> PathBuf {
    Inputs::from_process().log_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Inputs {
        Inputs {
            uid: 1000,
            home: Some("/home/ada".into()),
            ..Inputs::default()
        }
    }

    #[test]
    fn root_uses_fhs_places_whatever_the_environment_says() {
        let root = Inputs {
            root: true,
            xdg_state_home: Some("/elsewhere".into()),
            xdg_runtime_dir: Some("/run/user/0".into()),
            ..user()
        };
        assert_eq!(root.state_dir(), PathBuf::from("/var/lib/upkeep"));
        assert_eq!(root.runtime_dir(), PathBuf::from("/run/upkeep"));
        assert_eq!(root.log_dir(), PathBuf::from("/var/log/upkeep"));
    }

    #[test]
    fn users_get_xdg_places() {
        let u = Inputs {
            xdg_state_home: Some("/home/ada/.state".into()),
            xdg_runtime_dir: Some("/run/user/1000".into()),
            ..user()
        };
        assert_eq!(u.state_dir(), PathBuf::from("/home/ada/.state/upkeep"));
        assert_eq!(u.runtime_dir(), PathBuf::from("/run/user/1000/upkeep"));
        assert_eq!(u.log_dir(), PathBuf::from("/home/ada/.state/upkeep/log"));
    }

    #[test]
    fn users_without_xdg_fall_back() {
        let u = user();
        assert_eq!(
            u.state_dir(),
            PathBuf::from("/home/ada/.local/state/upkeep")
        );
        assert_eq!(u.runtime_dir(), PathBuf::from("/tmp/upkeep-1000"));
        assert_eq!(
            u.log_dir(),
            PathBuf::from("/home/ada/.local/state/upkeep/log")
        );
    }

    #[test]
    fn relative_or_empty_xdg_values_are_ignored() {
        let u = Inputs {
            xdg_state_home: Some("relative/state".into()),
            xdg_runtime_dir: Some("".into()),
            ..user()
        };
        assert_eq!(
            u.state_dir(),
            PathBuf::from("/home/ada/.local/state/upkeep")
        );
        assert_eq!(u.runtime_dir(), PathBuf::from("/tmp/upkeep-1000"));
    }

    #[test]
    fn no_home_at_all_still_gives_a_per_user_place() {
        let u = Inputs {
            uid: 1000,
            ..Inputs::default()
        };
        assert_eq!(u.state_dir(), PathBuf::from("/tmp/upkeep-1000/state"));
    }
}
