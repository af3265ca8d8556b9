//! A BPF array of one value, for a program to leave its answer in.

use std::ffi::c_int;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, OwnedFd};

use super::{Command, MakesFd, bpf, call};

const CMD_MAP_CREATE: c_int = 0;
const CMD_MAP_LOOKUP_ELEM: c_int = 1;
const CMD_MAP_UPDATE_ELEM: c_int = 2;
/// `BPF_MAP_TYPE_ARRAY`.
const MAP_TYPE_ARRAY: u32 = 2;

/// The leading part of `union bpf_attr` for `BPF_MAP_CREATE`, up to
/// `map_name`; no padding.
#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
}

/// `union bpf_attr` for `BPF_MAP_LOOKUP_ELEM` and `BPF_MAP_UPDATE_ELEM`.
#[repr(C)]
struct MapElemAttr<'a, const CMD: c_int> {
    map_fd: u32,
    pad: u32,
    key: u64,
    value: u64,
    flags: u64,
    /// The key and the value the addresses above name.
    borrows: PhantomData<(&'a u32, &'a mut [u64])>,
}

const _: () = assert!(size_of::<MapCreateAttr>() == 44);
const _: () = assert!(size_of::<MapElemAttr<'_, 0>>() == 32);

// SAFETY: the kernel's layout for BPF_MAP_CREATE up to `map_name`, 44
// bytes of u32 and bytes, no padding, no address.
unsafe impl Command for MapCreateAttr {
    const CMD: c_int = CMD_MAP_CREATE;
}

impl MakesFd for MapCreateAttr {}

// SAFETY (both impls): the kernel's layout for BPF_MAP_LOOKUP_ELEM and
// BPF_MAP_UPDATE_ELEM, 32 bytes, `pad` explicit; a value is only made by
// `OneValue::elem`, whose `key` and `value` are the addresses of a `u32`
// and of a slice of the map's value size, both alive across the call.
unsafe impl Command for MapElemAttr<'_, CMD_MAP_LOOKUP_ELEM> {
    const CMD: c_int = CMD_MAP_LOOKUP_ELEM;
}

// SAFETY: see above.
unsafe impl Command for MapElemAttr<'_, CMD_MAP_UPDATE_ELEM> {
    const CMD: c_int = CMD_MAP_UPDATE_ELEM;
}

/// An array map of one value of `words` 64-bit words, at key 0.
#[derive(Debug)]
pub(super) struct OneValue {
    fd: OwnedFd,
    words: usize,
}

impl OneValue {
    /// A new map, named `name` (at most 15 bytes), its value all zeros.
    pub(super) fn create(name: &str, words: usize) -> io::Result<OneValue> {
        let mut map_name = [0u8; 16];
        let len = name.len().min(15);
        map_name[..len].copy_from_slice(&name.as_bytes()[..len]);
        let value_size = u32::try_from(words * 8).map_err(io::Error::other)?;
        let fd = bpf(&mut MapCreateAttr {
            map_type: MAP_TYPE_ARRAY,
            key_size: 4,
            value_size,
            max_entries: 1,
            map_name,
            ..MapCreateAttr::default()
        })?;
        Ok(OneValue { fd, words })
    }

    /// The map's descriptor, for a program's instructions.
    pub(super) fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// Replace the value with `value`.
    pub(super) fn set(&self, value: &mut [u64]) -> io::Result<()> {
        self.elem::<CMD_MAP_UPDATE_ELEM>(value)
    }

    /// Read the value into `value`.
    pub(super) fn get(&self, value: &mut [u64]) -> io::Result<()> {
        self.elem::<CMD_MAP_LOOKUP_ELEM>(value)
    }

    fn elem<const CMD: c_int>(&self, value: &mut [u64]) -> io::Result<()>
    where
        for<'a> MapElemAttr<'a, CMD>: Command,
    {
        if value.len() != self.words {
            return Err(io::Error::other("a value of another size"));
        }
        let key = 0u32;
        call(&mut MapElemAttr::<CMD> {
            map_fd: self.fd.as_raw_fd() as u32,
            pad: 0,
            key: &key as *const u32 as u64,
            value: value.as_mut_ptr() as u64,
            flags: 0,
            borrows: PhantomData,
        })
        .map(drop)
    }
}
