//! `etcdlab-sim`: the visualizer's simulator as a Web Worker (built by trunk beside the page,
//! loaded by `etcdlab-sim_loader.js`). It reads the page's messages ([`etcdlab_viz::sim_protocol`])
//! and answers through [`etcdlab_viz::sim_host::SimHost`]; a message it cannot read is answered
//! with an error. Once listening it says it is ready: the page sends nothing before.

use etcdlab_viz::sim_host::SimHost;
use etcdlab_viz::sim_protocol::{self, FromSimulator, ToSimulator};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

fn main() {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let performance = scope.performance();
    let clock = Box::new(move || match &performance {
        Some(p) => p.now(),
        None => js_sys::Date::now(),
    });
    let mut host = SimHost::new(clock);
    let replies = scope.clone();
    let mut reply = move |message: FromSimulator| post(&replies, &message);
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        let message = e
            .data()
            .as_string()
            .ok_or_else(|| "a message to the simulator that is not text".to_string())
            .and_then(|text| sim_protocol::decode::<ToSimulator>(&text));
        match message {
            Ok(message) => host.handle(message, &mut reply),
            Err(error) => reply(FromSimulator::Failed { error }),
        }
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The worker lives as long as the page keeps it: so does its handler.
    on_message.forget();
    post(&scope, &FromSimulator::Ready);
}

/// Sends `message` to the page (a message that cannot be written, as the error instead).
fn post(scope: &DedicatedWorkerGlobalScope, message: &FromSimulator) {
    let text = sim_protocol::encode(message).unwrap_or_else(|error| {
        sim_protocol::encode(&FromSimulator::Failed { error }).unwrap_or_default()
    });
    // A page that is gone cannot be told anything.
    let _ = scope.post_message(&JsValue::from_str(&text));
}
