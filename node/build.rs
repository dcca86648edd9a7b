//! Generates the gRPC client and server stubs for etcd's v3 services. The message types come
//! from `etcdlab-core` (mapped with `extern_path`), so client, server and core share one set.

fn main() -> std::io::Result<()> {
    warn_without_tokio_unstable();
    let protoc = protoc_bin_vendored::protoc_bin_path().map_err(std::io::Error::other)?;
    // SAFETY: build scripts are single-threaded; the proto compiler reads PROTOC from the environment.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let root = "../shared/proto";
    let files = [
        "etcdserverpb/rpc.proto",
        "v3lockpb/v3lock.proto",
        "v3electionpb/v3election.proto",
    ]
    .map(|f| format!("{root}/{f}"));
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    // The descriptors let the HTTP/JSON gateway translate JSON to and from these messages.
    let descriptors =
        std::path::PathBuf::from(std::env::var("OUT_DIR").map_err(std::io::Error::other)?)
            .join("descriptors.bin");
    let mut builder = tonic_prost_build::configure().file_descriptor_set_path(descriptors);
    for package in [
        "mvccpb",
        "authpb",
        "etcdserverpb",
        "v3lockpb",
        "v3electionpb",
    ] {
        builder = builder.extern_path(
            format!(".{package}"),
            format!("::etcdlab_core::proto::{package}"),
        );
    }
    builder.compile_protos(&files, &[root.to_string()])
}

/// The runtime leaves tokio's LIFO slot out (`src/tool.rs`) through an unstable option that
/// `.cargo/config.toml` turns on with `--cfg tokio_unstable`; `RUSTFLAGS` in the environment
/// replaces the config's flags and silently loses it, so the build says so.
fn warn_without_tokio_unstable() {
    println!("cargo:rerun-if-env-changed=RUSTFLAGS");
    if std::env::var_os("CARGO_CFG_TOKIO_UNSTABLE").is_none() {
        println!(
            "cargo:warning=built without --cfg tokio_unstable (RUSTFLAGS in the environment \
             replaces .cargo/config.toml's flags): the runtime keeps tokio's LIFO slot and \
             many-client writes are 15-20 % slower; add `--cfg tokio_unstable` to RUSTFLAGS"
        );
    }
}
