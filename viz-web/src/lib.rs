//! `etcdlab-viz`: the visualizer, a Yew app compiled to WASM and embedded in the `etcdlab`
//! binary, which serves it at the lab's address. Two binaries share this library: the page
//! (`etcdlab-viz`, `main.rs`) and its simulator in a Web Worker (`etcdlab-sim`,
//! `sim_worker.rs`), so a page on a lab never loads the simulator's code.
//!
//! A tour of the page: [`source`] reads the lab's event stream and talks to its API, or, with
//! no lab, [`simulator`] runs a simulated cluster in the worker; [`playback`] keeps the
//! history and the clock (pause, step, speed, scrub) over the core's `ClusterView` reducer;
//! [`ring`] draws the members and the messages in flight, [`logs`] the logs and state
//! machines; [`terminal`] turns typed etcdctl lines into requests; [`lesson_panel`] runs a
//! guided lesson beside the ring, checking its goals on the lab's observation or, in demo
//! mode, on one built from the page's view; [`memo`] keeps the slower-changing parts from
//! being rebuilt every frame; [`app`] ties them into the page.
//!
//! The worker: [`sim_protocol`] is what the page and the worker say to each other,
//! [`sim_host`] carries it out on a [`demo`], the core's simulator playing a scenario.

pub mod app;
mod demo;
mod lesson_panel;
mod logs;
mod memo;
mod playback;
mod ring;
pub mod sim_host;
pub mod sim_protocol;
mod simulator;
mod source;
mod terminal;
