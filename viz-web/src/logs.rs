//! Each member's log as a strip of entries coloured by term, with the commit and applied
//! marks, and its key-value state machine beside it: a put is seen appended on the leader,
//! replicated to the followers, committed, then applied everywhere.
//!
//! Test hooks: each entry is a `<span data-entry data-index data-term data-committed>`.

use etcdlab_core::cluster_view::ClusterView;
use etcdlab_core::events::EntrySummary;
use yew::prelude::*;

use crate::ring::role_name;

/// Entries shown per member (the most recent ones).
const SHOWN_ENTRIES: usize = 24;
/// Terms get one of this many colours, in turn.
const TERM_COLOURS: u64 = 8;

pub fn logs(view: &ClusterView, on_entry: &Callback<(String, u64)>) -> Html {
    let rows: Html = view
        .members_by_name()
        .into_iter()
        .map(|m| {
            let start = m.log.len().saturating_sub(SHOWN_ENTRIES);
            let entries: Html = m.log[start..]
                .iter()
                .map(|e| entry(e, m.commit, m.applied, &m.id, on_entry))
                .collect();
            let kv: Html = m
                .kv
                .iter()
                .rev()
                .take(8)
                .map(|(k, v)| html! { <tr><td>{ k }</td><td>{ v }</td></tr> })
                .collect();
            html! {
                <div class={classes!("log-row", role_name(m))} data-log={m.name.clone()}>
                    <div class="log-name">{ &m.name }<small>{ format!(" commit {} · applied {}", m.commit, m.applied) }</small></div>
                    <div class="log-strip">{ entries }</div>
                    <table class="kv" data-kv={m.name.clone()}>{ kv }</table>
                </div>
            }
        })
        .collect();
    html! { <section class="logs"><h2>{ "Logs and state machines" }</h2>{ rows }</section> }
}

fn entry(
    e: &EntrySummary,
    commit: u64,
    applied: u64,
    member: &str,
    on_entry: &Callback<(String, u64)>,
) -> Html {
    let committed = e.index <= commit;
    let key = (member.to_string(), e.index);
    let onclick = on_entry.reform(move |_| key.clone());
    html! {
        <span class={classes!("entry", format!("term-{}", e.term % TERM_COLOURS),
                              committed.then_some("committed"), (e.index <= applied).then_some("applied"))}
              data-entry="" data-index={e.index.to_string()} data-term={e.term.to_string()}
              data-committed={committed.to_string()} title={e.request.clone()} onclick={onclick}>
            <b>{ e.index }</b><i>{ short(&e.request) }</i>
        </span>
    }
}

/// An entry's request shortened for the strip (the full text is in its tooltip).
fn short(request: &str) -> String {
    let text = request.strip_prefix("put ").unwrap_or(request);
    if text.chars().count() > 10 {
        format!("{}…", text.chars().take(9).collect::<String>())
    } else {
        text.to_string()
    }
}
