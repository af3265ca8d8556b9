//! The few facts about the running kernel that the BPF descriptor iterator
//! needs, read from its BTF (`/sys/kernel/btf/vmlinux`): the type id of the
//! `bpf_iter_task_file` function the program attaches to, and where (and how
//! wide) the fields it reads are in `struct file`, `struct inode`, `struct
//! super_block` and `struct task_struct`.
//!
//! The format is the kernel's (`Documentation/bpf/btf.rst`): a header, a
//! type section of `btf_type` records (12 bytes each, then data whose length
//! depends on the kind), and a string section. Type ids count the records
//! from 1. One pass over the type section notes where each record starts and
//! which records are the ones looked for; the members are read after it.

use std::fs::File;
use std::ops::{Deref, Range};
use std::os::fd::AsRawFd;

/// Where the split kernel BTF lives.
pub(super) const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// The kernel's BTF: mapped where the kernel lets it be (recent kernels map
/// `/sys/kernel/btf/vmlinux` without a copy, 0.3 ms here where reading its
/// 5.5 MB takes 10), else read.
pub(super) enum Blob {
    /// A read-only private mapping of the whole file.
    Mapped { addr: *mut libc::c_void, len: usize },
    /// The file, read.
    Read(Vec<u8>),
}

impl Blob {
    /// The BTF at `path`, mapped or read; `None` when it cannot be read.
    pub(super) fn open(path: &str) -> Option<Blob> {
        let file = File::open(path).ok()?;
        let len = usize::try_from(file.metadata().ok()?.len()).ok()?;
        if len > 0 {
            // SAFETY: a new private read-only mapping of `len` bytes of an
            // open file, at an address the kernel picks: it aliases no Rust
            // memory. The descriptor may be closed after the call.
            let addr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE,
                    file.as_raw_fd(),
                    0,
                )
            };
            if addr != libc::MAP_FAILED {
                return Some(Blob::Mapped { addr, len });
            }
        }
        std::fs::read(path).ok().map(Blob::Read)
    }
}

impl Deref for Blob {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            // SAFETY: `addr` is a live mapping of `len` readable bytes (it is
            // unmapped only on drop); the kernel's BTF under it never changes
            // and, mapped read-only and private, nothing writes to it. The
            // file's size is the BTF's, so no page of it is past the end.
            Blob::Mapped { addr, len } => unsafe {
                std::slice::from_raw_parts(addr.cast::<u8>(), *len)
            },
            Blob::Read(data) => data,
        }
    }
}

impl Drop for Blob {
    fn drop(&mut self) {
        if let Blob::Mapped { addr, len } = *self {
            // SAFETY: the mapping made in `open`, unmapped once; no slice of
            // it outlives `self` (`deref` borrows it).
            unsafe { libc::munmap(addr, len) };
        }
    }
}

/// One field the program loads: its byte offset in its struct and its width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Field {
    /// Byte offset from the start of the struct.
    pub offset: u32,
    /// Width in bytes (1, 2, 4 or 8).
    pub size: u32,
}

/// What the program needs to know about this kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Layout {
    /// The type id of the FUNC `bpf_iter_task_file`: the `attach_btf_id`.
    pub iter_func: u32,
    /// `struct file`.`f_inode`.
    pub f_inode: Field,
    /// `struct inode`.`i_ino`.
    pub i_ino: Field,
    /// `struct inode`.`i_sb`.
    pub i_sb: Field,
    /// `struct super_block`.`s_dev`.
    pub s_dev: Field,
    /// `struct task_struct`.`tgid`.
    pub tgid: Field,
    /// `struct inode`.`i_flctx`: the file's lock context, NULL until a lock is first taken.
    pub i_flctx: Field,
    /// Where `struct file_lock_context` keeps its three lists of locks
    /// (`flc_flock`, `flc_posix`, `flc_lease`: each a `struct list_head`,
    /// whose `next` comes first and points back at the head when it is empty).
    pub lock_lists: [u32; 3],
}

const MAGIC: u16 = 0xeb9f;
const TYPE_HEADER: usize = 12;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

/// The structs whose members are read, in the order of [`Btf::structs`].
const STRUCTS: [&[u8]; 5] = [
    b"file",
    b"inode",
    b"super_block",
    b"task_struct",
    b"file_lock_context",
];

/// The function the iterator program attaches to.
const ITER_FUNC: &[u8] = b"bpf_iter_task_file";

/// A BTF blob indexed by one pass over its type section.
struct Btf<'a> {
    types: &'a [u8],
    strings: &'a [u8],
    /// The offset in `types` of each record, by type id (index 0 is id 1).
    starts: Vec<u32>,
    /// The type ids of the structs in [`STRUCTS`] (0: not found).
    structs: [u32; 5],
    /// The type id of [`ITER_FUNC`] (0: not found).
    iter_func: u32,
}

/// The layout of this kernel from the BTF blob `data`; `None` when it is not
/// BTF, is cut short, or lacks one of the types or fields.
pub(super) fn layout(data: &[u8]) -> Option<Layout> {
    let btf = Btf::index(data)?;
    let [file, inode, super_block, task, lock_context] = btf.structs;
    let list = |name: &[u8]| btf.member(lock_context, name, false).map(|f| f.offset);
    Some(Layout {
        iter_func: (btf.iter_func != 0).then_some(btf.iter_func)?,
        f_inode: btf.field(file, b"f_inode")?,
        i_ino: btf.field(inode, b"i_ino")?,
        i_sb: btf.field(inode, b"i_sb")?,
        s_dev: btf.field(super_block, b"s_dev")?,
        tgid: btf.field(task, b"tgid")?,
        i_flctx: btf.field(inode, b"i_flctx")?,
        lock_lists: [
            list(b"flc_flock")?,
            list(b"flc_posix")?,
            list(b"flc_lease")?,
        ],
    })
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// A section of the blob, from its offset and length after the header.
fn section(data: &[u8], header: usize, off: u32, len: u32) -> Option<&[u8]> {
    let start = header.checked_add(off as usize)?;
    data.get(start..start.checked_add(len as usize)?)
}

/// The bytes of trailing data after a record of `kind` with `vlen` entries.
fn trailing(kind: u32, vlen: usize) -> usize {
    match kind {
        KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
        KIND_ARRAY => 12,
        KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
        KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen,
        _ => 0,
    }
}

impl<'a> Btf<'a> {
    /// One pass over the type section of `data` (little-endian BTF only).
    fn index(data: &'a [u8]) -> Option<Self> {
        if u16_at(data, 0)? != MAGIC {
            return None;
        }
        let header = u32_at(data, 4)? as usize;
        let types = section(data, header, u32_at(data, 8)?, u32_at(data, 12)?)?;
        let strings = section(data, header, u32_at(data, 16)?, u32_at(data, 20)?)?;
        let mut btf = Btf {
            types,
            strings,
            // vmlinux averages a little over 30 bytes a record.
            starts: Vec::with_capacity(types.len() / 28),
            structs: [0; 5],
            iter_func: 0,
        };
        let mut at = 0;
        while at < types.len() {
            let info = u32_at(types, at + 4)?;
            let kind = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            btf.starts.push(at as u32);
            let id = btf.starts.len() as u32;
            if kind == KIND_STRUCT && vlen > 0 {
                let name = u32_at(types, at)?;
                if let Some(i) = STRUCTS.iter().position(|s| btf.is_named(name, s)) {
                    btf.structs[i] = id;
                }
            } else if kind == KIND_FUNC && btf.is_named(u32_at(types, at)?, ITER_FUNC) {
                btf.iter_func = id;
            }
            at += TYPE_HEADER + trailing(kind, vlen);
        }
        (at == types.len()).then_some(btf)
    }

    /// Whether the string at `off` is `name`: its bytes, then a NUL.
    fn is_named(&self, off: u32, name: &[u8]) -> bool {
        let off = off as usize;
        self.strings.get(off..off + name.len()) == Some(name)
            && self.strings.get(off + name.len()) == Some(&0)
    }

    /// The string at `off` in the string section, without its NUL.
    fn name(&self, off: u32) -> &'a [u8] {
        let rest = self.strings.get(off as usize..).unwrap_or_default();
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        &rest[..end]
    }

    /// The record of type `id`: its kind, vlen, kind_flag, size-or-type word,
    /// and where its trailing data is.
    fn record(&self, id: u32) -> Option<(u32, usize, bool, u32, Range<usize>)> {
        let at = *self.starts.get(id.checked_sub(1)? as usize)? as usize;
        let info = u32_at(self.types, at + 4)?;
        let kind = (info >> 24) & 0x1f;
        let vlen = (info & 0xffff) as usize;
        let word = u32_at(self.types, at + 8)?;
        let data = at + TYPE_HEADER;
        Some((
            kind,
            vlen,
            info >> 31 == 1,
            word,
            data..data + trailing(kind, vlen),
        ))
    }

    /// The member `name` of the struct or union `id`, also inside its
    /// anonymous structs and unions; `None` for a bitfield or a width that
    /// is not a load's.
    fn field(&self, id: u32, name: &[u8]) -> Option<Field> {
        self.member(id, name, true)
    }

    /// The member `name` of the struct or union `id`, as [`Self::field`]
    /// finds it; unless `loadable`, of any width (a struct within a struct).
    fn member(&self, id: u32, name: &[u8], loadable: bool) -> Option<Field> {
        let (kind, vlen, kind_flag, _, data) = self.record(id)?;
        if kind != KIND_STRUCT && kind != KIND_UNION {
            return None;
        }
        for m in 0..vlen {
            let at = data.start + 12 * m;
            let member_name = self.name(u32_at(self.types, at)?);
            let member_type = u32_at(self.types, at + 4)?;
            let raw = u32_at(self.types, at + 8)?;
            let (bits, bitfield) = if kind_flag {
                (raw & 0xff_ffff, raw >> 24)
            } else {
                (raw, 0)
            };
            if !bits.is_multiple_of(8) {
                continue;
            }
            let found = if member_name == name && bitfield == 0 {
                let size = self.size(member_type)?;
                (!loadable || [1, 2, 4, 8].contains(&size)).then_some(Field { offset: 0, size })
            } else if member_name.is_empty() {
                self.member(member_type, name, loadable)
            } else {
                None
            };
            if let Some(field) = found {
                return Some(Field {
                    offset: field.offset + bits / 8,
                    size: field.size,
                });
            }
        }
        None
    }

    /// The size in bytes of type `id`, through typedefs and qualifiers.
    fn size(&self, mut id: u32) -> Option<u32> {
        // A chain of typedefs and qualifiers is short; this bounds a cycle.
        for _ in 0..32 {
            let (kind, _, _, word, _) = self.record(id)?;
            match kind {
                KIND_INT | KIND_ENUM | KIND_ENUM64 | KIND_STRUCT | KIND_UNION => {
                    return Some(word);
                }
                KIND_PTR => return Some(8),
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = word;
                }
                _ => return None,
            }
        }
        None
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A layout with made-up offsets, for the tests of what uses one.
    pub(in super::super) fn sample_layout() -> Layout {
        let field = |offset, size| Field { offset, size };
        Layout {
            iter_func: 77,
            f_inode: field(40, 8),
            i_ino: field(64, 8),
            i_sb: field(48, 8),
            s_dev: field(16, 4),
            tgid: field(1000, 4),
            i_flctx: field(300, 8),
            lock_lists: [8, 24, 40],
        }
    }

    /// A BTF blob of `types` (each a 12-byte record and its data) and `strings`.
    fn blob(types: &[u8], strings: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(MAGIC.to_le_bytes());
        out.extend([1, 0]);
        for word in [
            24,
            0,
            types.len() as u32,
            types.len() as u32,
            strings.len() as u32,
        ] {
            out.extend(word.to_le_bytes());
        }
        out.extend(types);
        out.extend(strings);
        out
    }

    fn record(out: &mut Vec<u8>, name: u32, kind: u32, kind_flag: bool, vlen: u32, word: u32) {
        let info = (u32::from(kind_flag) << 31) | (kind << 24) | vlen;
        for w in [name, info, word] {
            out.extend(w.to_le_bytes());
        }
    }

    #[test]
    fn finds_members_through_typedefs_and_anonymous_unions() {
        let strings = b"\0int\0file\0f_inode\0x\0bpf_iter_task_file\0u32\0";
        let (int, file, f_inode, x, func, u32_name) = (1u32, 5, 10, 18, 20, 39);
        let mut t = Vec::new();
        record(&mut t, int, KIND_INT, false, 0, 4); // 1: int
        t.extend(32u32.to_le_bytes());
        record(&mut t, 0, KIND_PTR, false, 0, 1); // 2: int *
        record(&mut t, u32_name, KIND_TYPEDEF, false, 0, 1); // 3: u32
        record(&mut t, 0, KIND_UNION, false, 2, 8); // 4: union { int *f_inode; u32 x; }
        for (name, ty, off) in [(f_inode, 2, 0), (x, 3, 0)] {
            for w in [name, ty, off as u32] {
                t.extend(w.to_le_bytes());
            }
        }
        record(&mut t, file, KIND_STRUCT, true, 2, 24); // 5: struct file
        for (name, ty, off) in [(x, 3, (4 << 24) | 32), (0, 4, 128)] {
            for w in [name, ty, off as u32] {
                t.extend(w.to_le_bytes());
            }
        }
        record(&mut t, func, KIND_FUNC, false, 0, 0); // 6: bpf_iter_task_file
        let data = blob(&t, strings);
        let btf = Btf::index(&data).unwrap();
        assert_eq!(btf.iter_func, 6);
        assert_eq!(btf.structs[0], 5);
        let f = btf.field(5, b"f_inode").unwrap();
        assert_eq!(
            f,
            Field {
                offset: 16,
                size: 8
            }
        );
        // `x` in struct file is a 4-bit bitfield: refused; the union's `x` is found.
        assert_eq!(
            btf.field(5, b"x"),
            Some(Field {
                offset: 16,
                size: 4
            })
        );
        assert!(layout(&data).is_none(), "struct inode is missing");
        assert!(Btf::index(&data[..data.len() - strings.len() - 1]).is_none());
    }

    #[test]
    fn reads_this_kernels_layout() {
        if !std::path::Path::new(VMLINUX).exists() {
            assert!(
                !crate::fixture::in_ci(),
                "cannot be skipped under CI: no {VMLINUX}"
            );
            eprintln!("skipped: no {VMLINUX}");
            return;
        }
        let data = Blob::open(VMLINUX).unwrap();
        assert_eq!(
            *data,
            *std::fs::read(VMLINUX).unwrap(),
            "mapped or read alike"
        );
        let layout = layout(&data).expect("the layout from vmlinux BTF");
        assert_eq!(layout.f_inode.size, 8);
        assert_eq!(layout.i_sb.size, 8);
        assert_eq!(layout.s_dev.size, 4);
        assert_eq!(layout.tgid.size, 4);
        assert_eq!(layout.i_flctx.size, 8);
        let [flock, posix, lease] = layout.lock_lists;
        assert!(flock != posix && posix != lease, "{:?}", layout.lock_lists);
        assert!(layout.iter_func > 0);
    }
}
