//! The data cache sizes of the running CPU, read once: they size the GEMM's
//! blocks and tell the direct path when an output is too large to stay cached.

use std::sync::OnceLock;

/// Bytes of a cache line (x86-64 and the common aarch64 cores): what packed
/// panels align to and what one prefetch brings in.
pub(crate) const LINE_BYTES: usize = 64;

/// Data cache sizes in bytes of one core's view (the L3 is the shared slice
/// sysfs reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Caches {
    pub l1: usize,
    pub l2: usize,
    pub l3: usize,
}

/// Cache sizes from sysfs on Linux; elsewhere, or where a level is not listed,
/// common defaults (32 KiB, 512 KiB, 8 MiB).
pub(crate) fn caches() -> Caches {
    static SIZES: OnceLock<Caches> = OnceLock::new();
    *SIZES.get_or_init(|| {
        let mut c = Caches {
            l1: 32 * 1024,
            l2: 512 * 1024,
            l3: 8 * 1024 * 1024,
        };
        for index in 0..5 {
            let base = format!("/sys/devices/system/cpu/cpu0/cache/index{index}");
            let read = |name: &str| std::fs::read_to_string(format!("{base}/{name}")).ok();
            let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size"))
            else {
                continue;
            };
            let Some(bytes) = parse_size(size.trim()) else {
                continue;
            };
            match (level.trim(), kind.trim()) {
                ("1", "Data") => c.l1 = bytes,
                ("2", "Data" | "Unified") => c.l2 = bytes,
                ("3", "Data" | "Unified") => c.l3 = bytes,
                _ => {}
            }
        }
        c
    })
}

/// `"48K"`, `"1M"`, `"1024"` in bytes.
fn parse_size(s: &str) -> Option<usize> {
    let (digits, unit) = match s.as_bytes().last()? {
        b'K' => (&s[..s.len() - 1], 1024),
        b'M' => (&s[..s.len() - 1], 1024 * 1024),
        b'G' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    digits.parse::<usize>().ok()?.checked_mul(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_are_sane() {
        assert_eq!(parse_size("48K"), Some(48 * 1024));
        assert_eq!(parse_size("32M"), Some(32 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("x"), None);
        let c = caches();
        assert!(c.l1 > 0 && c.l2 >= c.l1 && c.l3 > 0);
    }
}
