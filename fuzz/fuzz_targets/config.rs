//! Any text as `nb.toml`: a router or a clear error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = nb_cli::config::Config::from_toml(text) {
        let _ = config.build();
    }
});
