//! A backup file as `kyotod restore` reads it from another machine: the magic, the
//! header, and every block record, until the reader refuses or ends.
#![no_main]

use kyoto_node::backup::BackupReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut reader) = BackupReader::open(data) {
        let _ = reader.header();
        // Each record consumes at least its 4-byte length: the loop ends.
        while let Ok(Some(_)) = reader.next_block() {}
    }
});
