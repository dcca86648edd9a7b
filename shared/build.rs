//! Generates the etcd v3 wire types (messages only; the node crate adds the gRPC services)
//! from the `.proto` files under `proto/`, with a vendored `protoc` so no system install is needed,
//! and the lessons (`../lessons/*.yaml`) as JSON for the wasm build, which reads them with the
//! JSON parser it already has instead of carrying a YAML one.

fn main() -> std::io::Result<()> {
    let protoc = protoc_bin_vendored::protoc_bin_path().map_err(std::io::Error::other)?;
    // SAFETY: build scripts are single-threaded; prost-build reads PROTOC from the environment.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let files = [
        "proto/mvccpb/kv.proto",
        "proto/authpb/auth.proto",
        "proto/etcdserverpb/rpc.proto",
        "proto/v3lockpb/v3lock.proto",
        "proto/v3electionpb/v3election.proto",
        "proto/etcdlab/raft_request.proto",
        "proto/etcdlab/storage.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    prost_build::Config::new().compile_protos(&files, &["proto"])?;
    lessons_as_json()
}

/// Writes `$OUT_DIR/lessons/<file>.json` for every lesson file, the same document as JSON
/// (`lesson::catalog` embeds these in the wasm; a test checks they parse to the same lessons).
fn lessons_as_json() -> std::io::Result<()> {
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("lessons");
    std::fs::create_dir_all(&out)?;
    println!("cargo:rerun-if-changed=../lessons");
    for entry in std::fs::read_dir("../lessons")? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path)?;
        let document: serde_json::Value = serde_yaml::from_str(&text)
            .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
        let name = path.file_name().expect("a file").to_string_lossy();
        std::fs::write(out.join(format!("{name}.json")), document.to_string())?;
    }
    Ok(())
}
