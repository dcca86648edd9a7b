//! Generates the etcd v3 wire types (messages only; the node crate adds the gRPC services)
//! from the `.proto` files under `proto/`, with a vendored `protoc` so no system install is needed.

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
    prost_build::Config::new().compile_protos(&files, &["proto"])
}
