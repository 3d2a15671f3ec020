//! `verifyDocument` takes any upload: `pdf::verify` must report or refuse,
//! never panic, whatever the bytes. The seed corpus holds documents signed
//! on the platform, so mutations reach the CMS, chain and timestamp checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yuyunqian::pdf::verify::{Trust, verify};

/// The root the seed documents chain to (`seeds/root.der`).
const ROOT: &[u8] = include_bytes!("../seeds/root.der");

fuzz_target!(|data: &[u8]| {
    let trust = Trust {
        root: ROOT,
        crls: &[],
    };
    let _ = verify(data, &trust);
});
