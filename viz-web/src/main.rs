//! `etcdlab-viz`: the visualizer, a Yew app compiled to WASM and embedded in the `etcdlab`
//! binary, which serves it at the lab's address.
//!
//! A tour: [`source`] reads the lab's event stream and talks to its API, or [`demo`] simulates
//! a cluster in the page when there is no lab ([`bench`] times it); [`playback`] keeps the history and the clock
//! (pause, step, speed, scrub) over the core's `ClusterView` reducer; [`ring`] draws the
//! members and the messages in flight, [`logs`] the logs and state machines; [`terminal`]
//! turns typed etcdctl lines into requests; [`lesson_panel`] runs a guided lesson beside the
//! ring, checking its goals on the lab's observation or, in demo mode, on one built from the
//! page's view ([`view_observation`]); [`memo`] keeps the slower-changing parts from being
//! rebuilt every frame; [`app`] ties them into the page.

mod app;
mod bench;
mod demo;
mod lesson_panel;
mod logs;
mod memo;
mod playback;
mod ring;
mod source;
mod terminal;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
