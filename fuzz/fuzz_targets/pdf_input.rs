//! Every PDF we accept goes through `pdf::input::accept`: whatever the
//! bytes, it returns page sizes or an error, within its limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yuyunqian::pdf::input::{Limits, accept};

fuzz_target!(|data: &[u8]| {
    let _ = accept(data, &Limits::default());
});
