//! gRPC service stubs for etcd's v3 API (clients for `ctl`, servers for the member), generated
//! at build time over the message types of `etcdlab_core::proto`.

#![allow(clippy::all)]

pub mod etcdserverpb {
    include!(concat!(env!("OUT_DIR"), "/etcdserverpb.rs"));
}
pub mod v3lockpb {
    include!(concat!(env!("OUT_DIR"), "/v3lockpb.rs"));
}
pub mod v3electionpb {
    include!(concat!(env!("OUT_DIR"), "/v3electionpb.rs"));
}
