//! The API's request parsing (SPEC 4): route matching of the request
//! target, percent-decoding of `{name}`, and the query strings of the
//! routes that take one. Input: a method byte, then the request target.
#![no_main]

use actix_web::http::Method;
use libfuzzer_sys::fuzz_target;
use oneinit::api::routes::resolve;
use oneinit_actors::model::config::MetricsConfig;

fuzz_target!(|data: &[u8]| {
    let Some((&m, rest)) = data.split_first() else {
        return;
    };
    let Ok(target) = std::str::from_utf8(rest) else {
        return;
    };
    let methods = [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::HEAD];
    let method = &methods[m as usize % methods.len()];
    let metrics = MetricsConfig {
        path: if m & 0x80 == 0 { "/metrics".into() } else { "/ops/prom.txt".into() },
        ..MetricsConfig::default()
    };
    let _ = resolve(method, target, &metrics);
});
