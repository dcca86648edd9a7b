//! Parts of the page that change less often than every animation frame: each is built only
//! when its version changes and then skipped by the renderer until the next change.

use std::cell::RefCell;

use yew::prelude::*;

#[derive(Properties, Clone)]
pub struct MemoProps {
    pub version: u64,
    pub content: Html,
}

impl PartialEq for MemoProps {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version
    }
}

/// Renders `content`, and re-renders only when `version` changes.
#[function_component(Memo)]
pub fn memo(props: &MemoProps) -> Html {
    props.content.clone()
}

/// The last built content of one part, by version.
#[derive(Default)]
pub struct MemoCache(RefCell<Option<(u64, Html)>>);

impl MemoCache {
    /// The part for `version`, built by `build` only if the version changed.
    pub fn get(&self, version: u64, build: impl FnOnce() -> Html) -> Html {
        let mut cached = self.0.borrow_mut();
        let content = match cached.as_ref() {
            Some((v, html)) if *v == version => html.clone(),
            _ => {
                let html = build();
                *cached = Some((version, html.clone()));
                html
            }
        };
        html! { <Memo version={version} content={content} /> }
    }
}
