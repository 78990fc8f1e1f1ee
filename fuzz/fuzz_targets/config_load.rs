//! The whole config loader (SPEC 2): parse in every format, `${VAR}`,
//! includes (local files and globs), merge, `defaults`, typing,
//! validation. Input: a format byte, then up to four files separated by
//! NUL bytes: the top file, `a.yaml`, `b.toml`, `conf.d/c.json` (the top
//! file includes them by name). Must never panic, hang or exceed memory.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use oneinit_actors::config_loader;

thread_local! {
    // Timers as in oneinit's runtime: a local file's read has a timeout.
    static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
}

fuzz_target!(|data: &[u8]| {
    let Some((&format, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if common::reaches_out(text) {
        return;
    }
    let top = ["top.yaml", "top.toml", "top.json"][format as usize % 3];
    let parts: Vec<&str> = text.splitn(4, '\0').collect();
    let path = common::write_files(&[top, "a.yaml", "b.toml", "conf.d/c.json"], &parts);
    let sources = [path.display().to_string()];
    RT.with(|rt| {
        if let Ok(loaded) = rt.block_on(config_loader::load(&sources)) {
            // What `check --print` does with a valid config.
            let _ = serde_yaml::to_string(&loaded.config);
        }
    });
});
