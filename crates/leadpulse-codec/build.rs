//! Compiles `proto/` with protox (pure Rust), so no system `protoc` is needed.
//! Also writes the FileDescriptorSet (`leadpulse.fds`), which non-Rust
//! clients can load to decode the outputs without protoc.
use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The schemas live at the top of the repository, where clients in
    // other languages find them.
    let root = "../../proto";
    let files = [
        "../../proto/leadpulse/v1/events.proto",
        "../../proto/leadpulse/v1/outputs.proto",
        "../../proto/leadpulse/v1/state.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, [root])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("leadpulse.fds"), fds.encode_to_vec())?;
    prost_build::Config::new()
        .btree_map(["."])
        .compile_fds(fds)?;
    Ok(())
}
