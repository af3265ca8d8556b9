//! The kernel layout the BPF programs need, kept for the rest of the boot.
//!
//! Finding it means a pass over the kernel's 5.5 MB of BTF: 2 to 5 ms, more
//! than a scan of a thousand pidfiles may spend on it. The layout cannot
//! change until the next boot, so the first scan writes it to
//! [`CACHE`] (see [`crate::kept`]), with the boot's id, and later ones read
//! it back, for the boot it names only; when it cannot be read or written,
//! the BTF is read as before.

use std::path::Path;

use super::btf::{Field, Layout};

/// The cache file.
const CACHE: &str = "/run/pidscope/kernel-layout";

/// The first line of the file: what it is, and its format's version.
const HEADER: &str = "pidscope kernel layout 1";

/// This boot's id, as the kernel gives it.
fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(id.trim().to_string())
}

/// The layout kept for this boot, if there is one to trust.
pub(super) fn load() -> Option<Layout> {
    load_from(Path::new(CACHE), &boot_id()?)
}

/// Keep `layout` for the rest of this boot; nothing is kept when the
/// directory or the file cannot be written.
pub(super) fn store(layout: &Layout) {
    if let Some(boot) = boot_id() {
        let _ = store_in(Path::new(CACHE), &boot, layout);
    }
}

fn load_from(path: &Path, boot: &str) -> Option<Layout> {
    parse(&crate::kept::read(path, 4096)?, boot)
}

fn store_in(path: &Path, boot: &str, layout: &Layout) -> std::io::Result<()> {
    crate::kept::write(path, &format(layout, boot), false)
}

/// The numbers of a layout, in a fixed order.
fn numbers(l: &Layout) -> Vec<u32> {
    let mut out = vec![l.iter_func];
    for f in [l.f_inode, l.i_ino, l.i_sb, l.s_dev, l.tgid, l.i_flctx] {
        out.extend([f.offset, f.size]);
    }
    out.extend(l.lock_lists);
    out
}

fn format(layout: &Layout, boot: &str) -> String {
    let numbers: Vec<String> = numbers(layout).iter().map(u32::to_string).collect();
    format!("{HEADER}\n{boot}\n{}\n", numbers.join(" "))
}

fn parse(text: &str, boot: &str) -> Option<Layout> {
    let mut lines = text.lines();
    if lines.next()? != HEADER || lines.next()? != boot {
        return None;
    }
    let n: Vec<u32> = lines
        .next()?
        .split(' ')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let [iter_func, fields @ .., a, b, c] = n.as_slice() else {
        return None;
    };
    let field = |i: usize| -> Option<Field> {
        Some(Field {
            offset: *fields.get(2 * i)?,
            size: *fields.get(2 * i + 1)?,
        })
    };
    (fields.len() == 12 && lines.next().is_none()).then_some(())?;
    Some(Layout {
        iter_func: *iter_func,
        f_inode: field(0)?,
        i_ino: field(1)?,
        i_sb: field(2)?,
        s_dev: field(3)?,
        tgid: field(4)?,
        i_flctx: field(5)?,
        lock_lists: [*a, *b, *c],
    })
}

#[cfg(test)]
mod tests {
    use super::super::btf::tests::sample_layout as layout;
    use super::*;

    #[test]
    fn a_layout_comes_back_for_its_boot_only() {
        let text = format(&layout(), "boot-a");
        assert_eq!(parse(&text, "boot-a"), Some(layout()));
        assert_eq!(parse(&text, "boot-b"), None);
        assert_eq!(
            parse(&text.replace(HEADER, "pidscope kernel layout 0"), "boot-a"),
            None
        );
        let cut = text.trim_end().rsplit_once(' ').unwrap().0.to_string();
        assert_eq!(parse(&cut, "boot-a"), None, "a number short");
        assert_eq!(parse(&format!("{text}1\n"), "boot-a"), None, "a line more");
    }

    #[test]
    fn a_file_anyone_may_write_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kernel-layout");
        store_in(&path, "boot-a", &layout()).unwrap();
        let mine = nix::unistd::geteuid().is_root();
        assert_eq!(
            load_from(&path, "boot-a").is_some(),
            mine,
            "kept, and trusted as root"
        );
        assert_eq!(load_from(&path, "boot-b"), None);
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .unwrap();
        assert_eq!(load_from(&path, "boot-a"), None, "writable by all");
        assert!(store_in(&path, "boot-a", &layout()).is_ok(), "replaced");
        assert_eq!(load_from(&path, "boot-a").is_some(), mine);
    }
}
