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
//! - Release builds on Linux are not position-independent (`-no-pie`):
//!   a position-independent executable has its pointers in constant data
//!   (vtables, panic locations, string tables: about 0.6 MiB) written at
//!   start-up, which makes every such page the process's own copy,
//!   resident for good. Not position-independent, those pages stay the
//!   file's, and the agent gives back the ones it does not use. The
//!   price is that the executable itself loads at a fixed address (no
//!   address-space layout randomisation for its code; libraries, heap
//!   and stacks are still randomised), as Go binaries such as
//!   node_exporter are (Debian's too). `OPSDECK_PIE=1` builds a
//!   position-independent one.

use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=layout/hot-text.ld");
    println!("cargo:rerun-if-env-changed=OPSDECK_CODE_LAYOUT");
    println!("cargo:rerun-if-env-changed=OPSDECK_PIE");
    println!("cargo::rustc-check-cfg=cfg(opsdeck_hot_text)");
    let linux = env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if !linux {
        return;
    }
    let release = env::var("PROFILE").is_ok_and(|p| p == "release");
    if release {
        link_hot_code_first();
        link_position_dependent();
    }
}

fn link_hot_code_first() {
    if disabled("OPSDECK_CODE_LAYOUT") {
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

fn link_position_dependent() {
    if env::var("OPSDECK_PIE").is_ok_and(|v| v == "1") {
        return;
    }
    println!("cargo:rustc-link-arg-bins=-no-pie");
}

fn disabled(variable: &str) -> bool {
    env::var(variable).is_ok_and(|v| v == "0")
}
