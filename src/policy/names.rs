//! Does a pidfile's name relate to a process's? `nginx.pid` and `nginx`,
//! `/run/postgresql/15-main.pid` and `postgres`. One rule for the
//! `name-mismatch` warning and for ownership when the clocks disagree.

use std::borrow::Cow;
use std::path::Path;

use crate::probe::process::ProcessInfo;

/// Directory names that say nothing about which daemon a file belongs to.
const GENERIC_DIRS: &[&str] = &[
    "run", "var", "tmp", "pid", "pids", "lock", "locks", "user", "daemons",
];

/// The names a process goes by: its kernel name (`comm`), its executable's
/// file name and its `argv[0]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessNames<'a> {
    /// The kernel's short name.
    pub name: &'a str,
    /// The executable's path, when readable.
    pub exe: Option<&'a Path>,
    /// The first argument of its command line, when readable.
    pub arg0: Option<&'a str>,
}

impl<'a> ProcessNames<'a> {
    /// The names of a probed process.
    pub fn of_info(info: &'a ProcessInfo) -> Self {
        ProcessNames {
            name: &info.name,
            exe: info.exe.as_deref(),
            arg0: info.cmdline.first().map(String::as_str),
        }
    }
}

/// Does the pidfile's name (stem without `.pid`) or its directory relate to the
/// process's name, executable name or `argv[0]`? Related means one contains the
/// other, ignoring case, or both share a word of three letters or more
/// (`php8.2-fpm.pid` and `php-fpm8.2`).
pub fn names_relate(path: &Path, names: &ProcessNames<'_>) -> bool {
    // Every verdict on a live process asks: no name is copied unless it
    // has capitals to lower, and no list is allocated.
    let file_name = path.file_name().map(|name| {
        let name = lowercase(name.to_string_lossy());
        match name.strip_suffix(".pid") {
            Some(stem) => Cow::Owned(stem.to_string()),
            None => name,
        }
    });
    let dir = path
        .parent()
        .and_then(Path::file_name)
        .map(|dir| lowercase(dir.to_string_lossy()))
        .filter(|dir| {
            !GENERIC_DIRS.contains(&dir.as_ref()) && !dir.chars().all(|c| c.is_ascii_digit())
        });
    let process_names = [
        Some(lowercase(Cow::Borrowed(names.name))),
        names
            .exe
            .and_then(Path::file_name)
            .map(|exe| lowercase(exe.to_string_lossy())),
        names
            .arg0
            .map(|arg0| lowercase(Cow::Borrowed(arg0.rsplit('/').next().unwrap_or(arg0)))),
    ];
    [file_name, dir]
        .iter()
        .flatten()
        .filter(|f| !f.is_empty())
        .any(|f| {
            process_names
                .iter()
                .flatten()
                .filter(|p| !p.is_empty())
                .any(|p| {
                    // A two-letter name like `sh` is inside too many words to count.
                    let long_enough = |s: &str| s.chars().count() >= 3;
                    (long_enough(p) && f.contains(p.as_ref()))
                        || (long_enough(f) && p.contains(f.as_ref()))
                        || shares_word(f, p)
                })
        })
}

/// `text` in lower case, copied only when it has a letter to lower.
fn lowercase(text: Cow<'_, str>) -> Cow<'_, str> {
    if text
        .bytes()
        .any(|b| b.is_ascii_uppercase() || !b.is_ascii())
    {
        Cow::Owned(text.to_lowercase())
    } else {
        text
    }
}

fn shares_word(a: &str, b: &str) -> bool {
    words(a).any(|w| words(b).any(|v| v == w))
}

/// The words of `text` that say something: three letters or more, and not `pid`.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 3 && *w != "pid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    #[test]
    fn names_relate_by_substring_and_shared_words() {
        let info = |name: &str| crate::fixture::process(name).build();
        let names_relate =
            |path: &Path, info: &ProcessInfo| names_relate(path, &ProcessNames::of_info(info));
        assert!(names_relate(Path::new("/run/crond.pid"), &info("cron")));
        assert!(names_relate(Path::new("/run/docker.pid"), &info("dockerd")));
        assert!(names_relate(
            Path::new("/run/php/php8.2-fpm.pid"),
            &info("php-fpm8.2")
        ));
        assert!(!names_relate(Path::new("/run/nginx.pid"), &info("sleep")));
        assert!(!names_relate(
            Path::new("/run/sshd.pid"),
            &ProcessInfo {
                exe: None,
                cmdline: vec![],
                ..info("sh")
            }
        ));
        assert!(!names_relate(
            Path::new("/run/nginx.pid"),
            &ProcessInfo {
                exe: None,
                cmdline: vec![],
                ..info("x")
            }
        ));
        assert!(!names_relate(
            Path::new("/run/user/1000/nginx.pid"),
            &info("sleep")
        ));
        let bare = |name: &str| ProcessInfo {
            exe: None,
            cmdline: vec![],
            ..info(name)
        };
        // A generic directory says nothing about whose file it is.
        assert!(!names_relate(Path::new("/run/app.pid"), &bare("runsv")));
        assert!(!names_relate(
            Path::new("/var/lock/app.pid"),
            &bare("lockd")
        ));
        // Words shorter than three letters, and the word `pid`, are in too many names.
        assert!(!names_relate(Path::new("/run/my-db.pid"), &bare("db-sync")));
        assert!(!names_relate(
            Path::new("/run/app-pid.pid"),
            &bare("pid-watch")
        ));
        assert!(names_relate(
            Path::new("/run/app-web.pid"),
            &bare("web-pid")
        ));
        // The executable's name and argv[0] count as the process's names too.
        assert!(names_relate(
            Path::new("/run/postgres.pid"),
            &ProcessInfo {
                exe: Some("/usr/lib/postgresql/15/bin/postgres".into()),
                cmdline: vec![],
                ..info("worker")
            }
        ));
        assert!(names_relate(
            Path::new("/run/redis.pid"),
            &ProcessInfo {
                exe: None,
                cmdline: vec!["/usr/bin/redis-server".into()],
                ..info("worker")
            }
        ));
        assert!(!names_relate(
            Path::new("/run/runit.pid"),
            &ProcessInfo {
                exe: None,
                cmdline: vec![],
                ..info("sshd")
            }
        ));
    }

    /// The rule as first written, one lowered copy and one list per name:
    /// the allocation-free [`names_relate`] must answer as it does.
    fn reference(path: &Path, names: &ProcessNames<'_>) -> bool {
        let mut file_names = Vec::new();
        if let Some(name) = path.file_name() {
            let name = name.to_string_lossy().to_lowercase();
            file_names.push(
                name.strip_suffix(".pid")
                    .map(str::to_string)
                    .unwrap_or(name),
            );
        }
        if let Some(dir) = path.parent().and_then(Path::file_name) {
            let dir = dir.to_string_lossy().to_lowercase();
            if !GENERIC_DIRS.contains(&dir.as_str()) && !dir.chars().all(|c| c.is_ascii_digit()) {
                file_names.push(dir);
            }
        }
        let mut process_names = vec![names.name.to_lowercase()];
        if let Some(exe) = names.exe.and_then(Path::file_name) {
            process_names.push(exe.to_string_lossy().to_lowercase());
        }
        if let Some(arg0) = names.arg0 {
            let base = arg0.rsplit('/').next().unwrap_or(arg0);
            process_names.push(base.to_lowercase());
        }
        let words = |s: &str| -> Vec<String> {
            s.split(|c: char| !c.is_alphabetic())
                .filter(|w| w.chars().count() >= 3 && *w != "pid")
                .map(str::to_string)
                .collect()
        };
        file_names.iter().filter(|f| !f.is_empty()).any(|f| {
            process_names.iter().filter(|p| !p.is_empty()).any(|p| {
                let long_enough = |s: &str| s.chars().count() >= 3;
                (long_enough(p) && f.contains(p.as_str()))
                    || (long_enough(f) && p.contains(f.as_str()))
                    || words(p).iter().any(|w| words(f).contains(w))
            })
        })
    }

    /// A name made of a few words that often recur, in other cases and
    /// with other separators: shared words, names inside names, generic
    /// directories and digits come up often.
    fn name() -> impl proptest::strategy::Strategy<Value = String> {
        let word = proptest::sample::select(vec![
            "ab", "abc", "Abc", "pid", "php", "fpm8", "run", "Lock", "123", "é", "É", "sh",
        ]);
        let separator = proptest::sample::select(vec!["", "-", ".", "_", "0", " "]);
        proptest::collection::vec((word, separator), 0..4).prop_map(|parts| {
            parts
                .into_iter()
                .map(|(word, separator)| format!("{word}{separator}"))
                .collect()
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]
        #[test]
        fn answers_as_the_rule_first_written(
            dir in name(),
            file in name(),
            suffix in proptest::sample::select(vec!["", ".pid", ".PID"]),
            name in name(),
            exe in proptest::option::of(name()),
            arg0 in proptest::option::of(name()),
        ) {
            let path = Path::new("/run").join(&dir).join(format!("{file}{suffix}"));
            let names = ProcessNames {
                name: &name,
                exe: exe.as_deref().map(Path::new),
                arg0: arg0.as_deref(),
            };
            proptest::prop_assert_eq!(names_relate(&path, &names), reference(&path, &names));
        }
    }
}
