//! Link options that keep the `opsdeck` binary's resident memory small
//! (the agent runs next to every application, so its RSS is a budget):
//!
//! - Release builds on Linux link the hot code first: `layout/hot-text.ld`
//!   lists the functions the agent runs, so that they share a few MiB of
//!   pages instead of being spread over the whole text segment, which the
//!   kernel then maps 64 KiB at a time. `scripts/code-layout` regenerates
//!   the list; set `OPSDECK_CODE_LAYOUT=0` to link without it. A symbol
//!   marks where they end, so that the agent can give the pages of all its
//!   other code back once it is up.
//! - Relative relocations are packed (`-z pack-relative-relocs`, DT_RELR)
//!   when the binary is built for the glibc it is built on and that glibc
//!   is 2.36 or newer, the first to apply them: the dynamic loader reads
//!   the table once at start-up, and packed it is about 10 KiB instead of
//!   0.8 MiB that stayed mapped. Such a binary refuses to start on an
//!   older glibc ("version `GLIBC_ABI_DT_RELR' not found"), so builds
//!   meant for older systems are made on one, or with
//!   `OPSDECK_PACK_RELOCS=0`.

use std::env;
use std::path::Path;
use std::process::Command;

/// The first glibc whose dynamic loader applies DT_RELR.
const RELR_GLIBC: (u32, u32) = (2, 36);

fn main() {
    println!("cargo:rerun-if-changed=layout/hot-text.ld");
    println!("cargo:rerun-if-env-changed=OPSDECK_CODE_LAYOUT");
    println!("cargo:rerun-if-env-changed=OPSDECK_PACK_RELOCS");
    println!("cargo::rustc-check-cfg=cfg(opsdeck_hot_text)");
    let linux = env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if !linux {
        return;
    }
    link_hot_code_first();
    pack_relative_relocations();
}

fn link_hot_code_first() {
    let release = env::var("PROFILE").is_ok_and(|p| p == "release");
    if !release || disabled("OPSDECK_CODE_LAYOUT") {
        return;
    }
    let Ok(root) = env::var("CARGO_MANIFEST_DIR") else {
        return;
    };
    let script = Path::new(&root).join("layout/hot-text.ld");
    if script.exists() {
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
        // The script marks where the hot code ends; the agent gives the
        // pages after it back once it is up.
        println!("cargo:rustc-cfg=opsdeck_hot_text");
    }
}

fn pack_relative_relocations() {
    let native = env::var("HOST").ok() == env::var("TARGET").ok();
    let gnu = env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|e| e == "gnu");
    if !native || !gnu || disabled("OPSDECK_PACK_RELOCS") {
        return;
    }
    if host_glibc().is_some_and(|version| version >= RELR_GLIBC) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

fn disabled(variable: &str) -> bool {
    env::var(variable).is_ok_and(|v| v == "0")
}

/// The build host's glibc version, from `getconf GNU_LIBC_VERSION`
/// ("glibc 2.36"); None where that is not glibc or cannot be told.
fn host_glibc() -> Option<(u32, u32)> {
    let output = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let version = text.trim().strip_prefix("glibc ")?;
    let mut parts = version.split('.').map(|part| part.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??))
}
