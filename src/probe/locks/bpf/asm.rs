//! The iterator program, assembled for the files looked for.
//!
//! For each descriptor the program loads the file's inode number and
//! device, then looks for them among the keys: the keys are grouped by
//! device, one 32-bit compare per group, and within a group the inode
//! numbers are searched by halves (`if ino > middle`), so a descriptor costs
//! a few compares however many keys there are. The verifier walks each path
//! once: its paths are the leaves of the search, not the pairs of keys a
//! linear chain of compares would make it explore.

use super::super::FileKey;
use super::super::btf::{Field, Layout};

/// The bytes of one record: `{tgid u32, fd u32, ino u64, dev u32, reader
/// u32}`, native endian, where `reader` is the thread group of the process
/// reading the iterator, as the kernel's initial PID namespace numbers it.
pub(super) const RECORD: usize = 24;

/// One BPF instruction, as `struct bpf_insn` lays it out.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Insn {
    code: u8,
    /// Destination register in the low nibble, source in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

const LDX_MEM: u8 = 0x61; // BPF_LDX | BPF_MEM, size bits added
const STX_MEM: u8 = 0x63; // BPF_STX | BPF_MEM, size bits added
const SIZE_W: u8 = 0x00;
const SIZE_DW: u8 = 0x18;
const MOV64_X: u8 = 0xbf;
const MOV64_K: u8 = 0xb7;
const ADD64_K: u8 = 0x07;
const ADD64_X: u8 = 0x0f;
const RSH64_K: u8 = 0x77;
const LSH64_K: u8 = 0x67;
const LSH64_X: u8 = 0x6f;
const AND64_K: u8 = 0x57;
const OR64_X: u8 = 0x4f;
const JA: u8 = 0x05;
const JEQ_K: u8 = 0x15;
const JEQ_X: u8 = 0x1d;
const JNE_X: u8 = 0x5d;
const JGT_X: u8 = 0x2d; // unsigned
const JGE_K: u8 = 0x35; // unsigned
const JNE32_K: u8 = 0x56; // BPF_JMP32: compares the low 32 bits
const CALL: u8 = 0x85;
const EXIT: u8 = 0x95;
const LD_IMM64: u8 = 0x18;

/// `BPF_PSEUDO_MAP_FD`: the 64-bit immediate is a map's descriptor.
const PSEUDO_MAP_FD: u8 = 1;

/// `bpf_map_lookup_elem`.
const HELPER_MAP_LOOKUP_ELEM: i32 = 1;
/// `bpf_get_current_pid_tgid`.
const HELPER_CURRENT_PID_TGID: i32 = 14;
/// `bpf_seq_write`.
const HELPER_SEQ_WRITE: i32 = 127;

/// The frame pointer.
const FP: u8 = 10;

/// Inode numbers compared one after another, below which a search stops halving.
const LEAF: usize = 4;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// The size bits of a load or store of `bytes` bytes.
fn size_bits(bytes: u32) -> u8 {
    match bytes {
        1 => 0x10,
        2 => 0x08,
        4 => SIZE_W,
        _ => SIZE_DW,
    }
}

fn load_field(dst: u8, src: u8, field: Field) -> Insn {
    insn(
        LDX_MEM | size_bits(field.size),
        dst,
        src,
        field.offset as i16,
        0,
    )
}

/// The kernel's `dev_t` of a key (`MKDEV`), `None` when no device has it.
fn kernel_dev(key: &FileKey) -> Option<u32> {
    (key.major < 1 << 12 && key.minor < 1 << 20).then_some((key.major << 20) | key.minor)
}

/// A program being assembled, with forward jumps to labels.
#[derive(Default)]
struct Asm {
    p: Vec<Insn>,
    /// Where each label is bound (`usize::MAX`: not yet).
    labels: Vec<usize>,
    /// Jumps to fix: the instruction and its label.
    fixups: Vec<(usize, usize)>,
}

impl Asm {
    fn label(&mut self) -> usize {
        self.labels.push(usize::MAX);
        self.labels.len() - 1
    }

    fn bind(&mut self, label: usize) {
        self.labels[label] = self.p.len();
    }

    fn jump(&mut self, code: u8, dst: u8, src: u8, imm: i32, label: usize) {
        self.fixups.push((self.p.len(), label));
        self.p.push(insn(code, dst, src, 0, imm));
    }

    fn imm64(&mut self, dst: u8, value: u64) {
        self.p.push(insn(LD_IMM64, dst, 0, 0, value as i32));
        self.p.push(insn(0, 0, 0, 0, (value >> 32) as i32));
    }

    /// Jump to `hit` when r8 is one of `inos` (ascending), else to `miss`.
    fn search(&mut self, inos: &[u64], hit: usize, miss: usize) {
        if inos.len() <= LEAF {
            for &ino in inos {
                self.imm64(1, ino);
                self.jump(JEQ_X, 8, 1, 0, hit);
            }
            self.jump(JA, 0, 0, 0, miss);
            return;
        }
        let half = inos.len() / 2;
        let upper = self.label();
        self.imm64(1, inos[half - 1]);
        self.jump(JGT_X, 8, 1, 0, upper);
        self.search(&inos[..half], hit, miss);
        self.bind(upper);
        self.search(&inos[half..], hit, miss);
    }

    /// The program, every jump pointed at its label; `None` when one is
    /// further than an instruction's 16-bit offset reaches.
    fn finish(mut self) -> Option<Vec<Insn>> {
        for (at, label) in self.fixups {
            let to = self.labels[label];
            self.p[at].off = i16::try_from(to.checked_sub(at + 1)?).ok()?;
        }
        Some(self.p)
    }
}

/// The program for `keys` (sorted); `None` when it would be too long for
/// its jumps. Registers: r6 the context, r2 the task, r7 the descriptor, r8
/// `i_ino`, r9 `s_dev`, r1 each key in turn. Every pointer is checked
/// against NULL (the iterator's last call has neither task nor file).
pub(super) fn assemble(layout: &Layout, keys: &[FileKey]) -> Option<Vec<Insn>> {
    let mut a = Asm::default();
    let (exit, matched) = (a.label(), a.label());
    a.p.push(insn(MOV64_X, 6, 1, 0, 0));
    a.p.push(insn(LDX_MEM | SIZE_DW, 2, 6, 8, 0)); // ctx->task
    a.jump(JEQ_K, 2, 0, 0, exit);
    load_file(&mut a, layout, exit);
    a.p.push(load_field(8, 4, layout.i_ino));
    a.p.push(load_field(5, 4, layout.i_sb));
    a.jump(JEQ_K, 5, 0, 0, exit);
    a.p.push(load_field(9, 5, layout.s_dev));
    let mut rest = keys;
    while let Some(first) = rest.first() {
        let same = rest
            .iter()
            .take_while(|k| (k.major, k.minor) == (first.major, first.minor))
            .count();
        let (group, after) = rest.split_at(same);
        rest = after;
        let Some(dev) = kernel_dev(first) else {
            continue;
        };
        let next = a.label();
        a.jump(JNE32_K, 9, 0, dev as i32, next);
        let inos: Vec<u64> = group.iter().map(|k| k.ino).collect();
        a.search(&inos, matched, exit);
        a.bind(next);
    }
    a.jump(JA, 0, 0, 0, exit);
    a.bind(matched);
    write_record(&mut a.p, layout);
    a.bind(exit);
    a.p.extend([insn(MOV64_K, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)]);
    a.finish()
}

/// The descriptors the lock peek's answer has a bit for: `0..PEEK_FDS`.
pub(super) const PEEK_FDS: usize = 1024;

/// The lock peek's answer, the one value of its map: a bit per descriptor
/// below [`PEEK_FDS`] (descriptor `fd` is bit `fd % 64` of word `fd / 64`),
/// then a word that is not 0 when a descriptor above them is locked.
pub(super) const PEEK_WORDS: usize = PEEK_FDS / 64 + 1;

/// The program that finds which of the iterated descriptors are open on a
/// file with a lock of any kind: for each, it sets the descriptor's bit in
/// the value of the array `map` (key 0, [`PEEK_WORDS`] words) when one of
/// the three lists of the inode's lock context (flock, POSIX and OFD,
/// leases) is not empty. A list is empty when its head's `next` points back
/// at the head, that is when `next->next` is `next`; an inode that was never
/// locked has no context, and the loads through its NULL read 0, which is
/// empty too. Registers: r6 the context, r7 the descriptor, r2 the lock
/// context, r3 and r4 a list's `next` and `next->next`, r0 the map's value.
///
/// The answer goes to a map rather than to the iterator's `seq_file`: the
/// verifier looks up the type of `meta->seq`, which `bpf_seq_write` needs,
/// by name among the kernel's 127,000 (a linear search), and that made
/// loading the program take 450 us here, against 100 without it.
pub(super) fn assemble_peek(layout: &Layout, map: i32) -> Option<Vec<Insn>> {
    let mut a = Asm::default();
    let (exit, locked, high) = (a.label(), a.label(), a.label());
    a.p.push(insn(MOV64_X, 6, 1, 0, 0));
    load_file(&mut a, layout, exit);
    a.p.push(load_field(2, 4, layout.i_flctx));
    a.jump(JEQ_K, 2, 0, 0, exit);
    for list in layout.lock_lists {
        a.p.push(insn(LDX_MEM | SIZE_DW, 3, 2, i16::try_from(list).ok()?, 0)); // head.next
        a.p.push(insn(LDX_MEM | SIZE_DW, 4, 3, 0, 0)); // next->next
        a.jump(JNE_X, 3, 4, 0, locked);
    }
    a.jump(JA, 0, 0, 0, exit);
    a.bind(locked);
    a.p.extend([
        insn(MOV64_K, 1, 0, 0, 0),
        insn(STX_MEM | SIZE_W, FP, 1, -4, 0), // the key, 0
        insn(LD_IMM64, 1, PSEUDO_MAP_FD, 0, map),
        insn(0, 0, 0, 0, 0),
        insn(MOV64_X, 2, FP, 0, 0),
        insn(ADD64_K, 2, 0, 0, -4),
        insn(CALL, 0, 0, 0, HELPER_MAP_LOOKUP_ELEM),
    ]);
    a.jump(JEQ_K, 0, 0, 0, exit);
    a.jump(JGE_K, 7, 0, PEEK_FDS as i32, high);
    a.p.extend([
        insn(MOV64_X, 1, 7, 0, 0),
        insn(RSH64_K, 1, 0, 0, 6),
        insn(LSH64_K, 1, 0, 0, 3),
        insn(ADD64_X, 0, 1, 0, 0), // r0: the descriptor's word
        insn(AND64_K, 7, 0, 0, 63),
        insn(MOV64_K, 2, 0, 0, 1),
        insn(LSH64_X, 2, 7, 0, 0), // r2: its bit
        insn(LDX_MEM | SIZE_DW, 3, 0, 0, 0),
        insn(OR64_X, 3, 2, 0, 0),
        insn(STX_MEM | SIZE_DW, 0, 3, 0, 0),
    ]);
    a.jump(JA, 0, 0, 0, exit);
    a.bind(high);
    a.p.extend([
        insn(MOV64_K, 1, 0, 0, 1),
        insn(STX_MEM | SIZE_DW, 0, 1, (8 * (PEEK_WORDS - 1)) as i16, 0),
    ]);
    a.bind(exit);
    a.p.extend([insn(MOV64_K, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)]);
    a.finish()
}

/// Write `{tgid, fd, ino, dev, reader}` with `bpf_seq_write` to the
/// iterator's `seq_file`, from the stack (r2 the task, r7..r9 as loaded).
fn write_record(p: &mut Vec<Insn>, layout: &Layout) {
    let record = RECORD as i32;
    p.extend([
        load_field(1, 2, layout.tgid),
        insn(STX_MEM | SIZE_W, FP, 1, -24, 0),
        insn(STX_MEM | SIZE_W, FP, 7, -20, 0),
        insn(STX_MEM | SIZE_DW, FP, 8, -16, 0),
        insn(STX_MEM | SIZE_W, FP, 9, -8, 0),
        insn(CALL, 0, 0, 0, HELPER_CURRENT_PID_TGID),
        insn(RSH64_K, 0, 0, 0, 32),
        insn(STX_MEM | SIZE_W, FP, 0, -4, 0),
    ]);
    seq_write(p, record);
}

/// Load the iterated file (r3), its descriptor (r7) and its inode (r4),
/// going to `exit` when there is no file (the iterator's last call) or inode.
fn load_file(a: &mut Asm, layout: &Layout, exit: usize) {
    a.p.push(insn(LDX_MEM | SIZE_DW, 3, 6, 24, 0)); // ctx->file
    a.jump(JEQ_K, 3, 0, 0, exit);
    a.p.push(insn(LDX_MEM | SIZE_W, 7, 6, 16, 0)); // ctx->fd
    a.p.push(load_field(4, 3, layout.f_inode));
    a.jump(JEQ_K, 4, 0, 0, exit);
}

/// Write the `len` bytes just below the frame pointer to the iterator's
/// `seq_file` with `bpf_seq_write` (r6 the context).
fn seq_write(p: &mut Vec<Insn>, len: i32) {
    p.extend([
        insn(LDX_MEM | SIZE_DW, 1, 6, 0, 0), // ctx->meta
        insn(LDX_MEM | SIZE_DW, 1, 1, 0, 0), // meta->seq
        insn(MOV64_X, 2, FP, 0, 0),
        insn(ADD64_K, 2, 0, 0, -len),
        insn(MOV64_K, 3, 0, 0, len),
        insn(CALL, 0, 0, 0, HELPER_SEQ_WRITE),
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::super::btf::tests::sample_layout as layout;

    /// Where each jump of `prog` lands, checked to be ahead and inside it.
    fn targets(prog: &[Insn]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (at, i) in prog.iter().enumerate() {
            let class = i.code & 0x07;
            if (class == 0x05 || class == 0x06) && i.code != CALL && i.code != EXIT {
                let to = at + 1 + usize::try_from(i.off).unwrap();
                assert!(to < prog.len(), "{at}: {i:?}");
                out.push((at, to));
            }
        }
        out
    }

    #[test]
    fn one_key_and_one_no_device_can_have() {
        let key = FileKey {
            major: 8,
            minor: 1,
            ino: 1 << 40 | 5,
        };
        let unreal = FileKey {
            major: 1 << 12,
            ..key
        };
        let prog = assemble(&layout(), &[key, unreal]).unwrap();
        assert_eq!(prog.len(), 12 + 5 + 1 + 14 + 2);
        assert_eq!(prog[12], insn(JNE32_K, 9, 0, 4, 8 << 20 | 1));
        assert_eq!(prog[13], insn(LD_IMM64, 1, 0, 0, 5));
        assert_eq!(prog[14].imm, 1 << 8);
        assert_eq!(prog[15], insn(JEQ_X, 8, 1, 2, 0));
        assert_eq!(prog.last(), Some(&insn(EXIT, 0, 0, 0, 0)));
        targets(&prog);
    }

    #[test]
    fn a_search_by_halves_reaches_every_key() {
        let keys: Vec<FileKey> = (0..100)
            .map(|i| FileKey {
                major: if i < 30 { 0 } else { 8 },
                minor: 1,
                ino: 10 * i,
            })
            .collect();
        let prog = assemble(&layout(), &keys).unwrap();
        let jumps = targets(&prog);
        // Each key is compared for equality once, with a jump to the record.
        let matched = prog.len() - 2 - 14;
        let hits: Vec<u64> = prog
            .iter()
            .enumerate()
            .filter(|(at, i)| i.code == JEQ_X && jumps.contains(&(*at, matched)))
            .map(|(at, _)| {
                (prog[at - 2].imm as u32 as u64) | (prog[at - 1].imm as u32 as u64) << 32
            })
            .collect();
        let mut sorted = hits.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, keys.iter().map(|k| k.ino).collect::<Vec<_>>());
        // Two devices, two 32-bit compares.
        assert_eq!(prog.iter().filter(|i| i.code == JNE32_K).count(), 2);
    }
}
