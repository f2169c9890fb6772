//! Links the `opsdeck` binary's hot code first (release builds on Linux,
//! with GNU ld or lld): `layout/hot-text.ld` lists the functions the
//! agent runs, so that they share a few MiB of pages instead of being
//! spread over the whole text segment, which the kernel then maps 64 KiB
//! at a time. `scripts/code-layout` regenerates the list; set
//! `OPSDECK_CODE_LAYOUT=0` to link without it.

use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=layout/hot-text.ld");
    println!("cargo:rerun-if-env-changed=OPSDECK_CODE_LAYOUT");
    let release = env::var("PROFILE").is_ok_and(|p| p == "release");
    let linux = env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let enabled = env::var("OPSDECK_CODE_LAYOUT").map_or(true, |v| v != "0");
    if !(release && linux && enabled) {
        return;
    }
    let Ok(root) = env::var("CARGO_MANIFEST_DIR") else {
        return;
    };
    let script = Path::new(&root).join("layout/hot-text.ld");
    if script.exists() {
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    }
}
