//! `oneinit import-supervisord` (SPEC 8): supervisord's INI dialect, its
//! `%(name)s` expansions, `[include]` globs, and the conversion to YAML.
//! Input: up to two files separated by a NUL byte (`supervisord.conf`,
//! `conf.d/x.conf`). Whatever it converts must be YAML that parses.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if common::reaches_out(text) {
        return;
    }
    let parts: Vec<&str> = text.splitn(2, '\0').collect();
    let path = common::write_files(&["supervisord.conf", "conf.d/x.conf"], &parts);
    if let Ok(conv) = oneinit::import::convert_supervisord(&path) {
        if let Err(e) = serde_yaml::from_str::<serde_yaml::Value>(&conv.yaml) {
            panic!("the import wrote YAML that does not parse: {e}\n{}", conv.yaml);
        }
    }
});
